import { loadavg } from 'node:os';
import { allocationScore } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { improveLocally } from '../../src/core/clearing/heuristics/local-search.js';
import { lpPacking } from '../../src/core/clearing/heuristics/lp-packing.js';
import { buildRoundProblem, objectiveOffset } from '../../src/core/clearing/round-problem.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/trajectory-probe.js [BIDS NODES] [MS,MS,...]` after
 * `npm run bench:clearing`: the local search alone from the LP packing, stopped after each
 * budget in turn (each run from the packing again), on contested 2 and 1 and instances 7 and
 * 42: welfare over the LP bound. The search is deterministic, so each budget shows how far it
 * gets in that time on this machine.
 */
const bids = Number(process.argv[2] ?? 10_000);
const nodes = Number(process.argv[3] ?? 1_000);
const budgets = (process.argv[4] ?? '250,500,1000,1500,2000,3000,4000').split(',').map(Number);
const wanted = ['contested 2', 'contested 1', 'instance 7', 'instance 42'];
console.log(`load at start ${loadavg()[0].toFixed(2)}, ${bids} x ${nodes}`);
console.log(`| round | packing | ${budgets.map((b) => `${b} ms`).join(' | ')} |`);
const rounds = probeRounds(bids, nodes).filter(([name]) => wanted.includes(name));
rounds.sort((a, b) => wanted.indexOf(a[0]) - wanted.indexOf(b[0]));
for (const [name, snapshot] of rounds) {
  const problem = buildRoundProblem(snapshot);
  const relaxed = (await upperBound(problem, new HighsBackend(), Date.now() + 600_000, Date.now))!;
  const kept = problem.flexibleLeases.reduce((t, l) => t + l.keepGain, 0) + objectiveOffset(problem);
  const pct = (score: number) => `${((100 * (score + kept)) / relaxed.bound).toFixed(3)}%`;
  const packed = lpPacking(problem, relaxed);
  const cells = budgets.map((ms) =>
    pct(allocationScore(problem, improveLocally(problem, packed, { deadline: Date.now() + ms, clock: Date.now }))),
  );
  console.log(`| ${name} | ${pct(allocationScore(problem, packed))} | ${cells.join(' | ')} |`);
}
