import { probeRounds } from './probe-rounds.js';
import { loadavg } from 'node:os';
import { buildRoundProblem, objectiveOffset } from '../../src/core/clearing/round-problem.js';
import type { RoundProblem } from '../../src/core/clearing/round-problem.js';
import { allocationScore } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { improveLocally, type LocalSearchOptions } from '../../src/core/clearing/heuristics/local-search.js';
import { lpPacking } from '../../src/core/clearing/heuristics/lp-packing.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { improveByNeighbourhoods } from '../../src/core/clearing/improve-neighbourhoods.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';

/**
 * `node dist/bench/bench/clearing/search-probe.js [BIDS NODES] [--variants]`: the local search
 * alone, fixed work (no deadline), from the LP packing of each 1,000 x 250 round, then SOLVES
 * (default 40) MIP neighbourhoods and a last search: welfare over the LP bound and time. The
 * search is deterministic, so a busy machine moves its times only; the neighbourhoods' solves
 * stop at a deadline (60 ms each), so their welfare may move too. `--variants` adds the search
 * at depth 3 and with every deep item; env DEPTH sets the first search's depth, NODES and LOSERS
 * the neighbourhoods' size, TRACE=1 prints the welfare after every fourth solve, NOLP=1 orders
 * losers without the LP's weights, ONLY=contested the contested rounds alone.
 */
const bids = Number(process.argv[2] ?? 1000);
const nodes = Number(process.argv[3] ?? 250);
const rounds = probeRounds(bids, nodes).filter(([name]) => !process.env.ONLY || name.startsWith(process.env.ONLY));
const variants: [string, Partial<LocalSearchOptions>][] = process.argv.includes('--variants')
  ? [
      ['as is (depth 2, 100 deep)', {}],
      ['depth 3', { depth: 3 }],
      ['deep items all', { deepItems: Infinity }],
    ]
  : [[`depth ${process.env.DEPTH ?? 2}`, { depth: Number(process.env.DEPTH ?? 2) }]];
const SOLVES = Number(process.env.SOLVES ?? 40);
const kept = (p: RoundProblem) => p.flexibleLeases.reduce((t, l) => t + l.keepGain, 0) + objectiveOffset(p);
console.log(
  `load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`| round | packing | ${variants.map(([n]) => n).join(' | ')} | then ${SOLVES} MIP neighbourhoods |`);
console.log(`| --- | --- | ${variants.map(() => '---').join(' | ')} | --- |`);
for (const [name, snapshot] of rounds) {
  const problem = buildRoundProblem(snapshot);
  const relaxed = (await upperBound(problem, new HighsBackend(), Date.now() + 60_000, Date.now))!;
  const packed = lpPacking(problem, relaxed);
  const pct = (score: number) => `${((100 * (score + kept(problem))) / relaxed.bound).toFixed(3)}%`;
  let searched = packed;
  const cells = variants.map(([, v]) => {
    const t = Date.now();
    const out = improveLocally(problem, packed, { deadline: Infinity, clock: Date.now, ...v });
    if (v === variants[0][1]) searched = out;
    return `${pct(allocationScore(problem, out))} ${Date.now() - t} ms`;
  });
  const t = Date.now();
  const trace: string[] = [];
  const lns = await improveByNeighbourhoods(problem, searched, new HighsBackend(), {
    deadline: Infinity,
    clock: Date.now,
    seed: 42,
    maxSolves: SOLVES,
    lpWeight: process.env.NOLP ? undefined : Float64Array.from(relaxed.bidOptions, (o) => o.reduce((t, v) => t + v, 0)),
    nodes: process.env.NODES ? Number(process.env.NODES) : undefined,
    losers: process.env.LOSERS ? Number(process.env.LOSERS) : undefined,
    onSolve: (score) => trace.push(`${Date.now() - t}:${pct(score).slice(0, -2)}`),
  });
  const after = lns.improved
    ? improveLocally(problem, lns.allocation, { deadline: Infinity, clock: Date.now })
    : lns.allocation;
  cells.push(`${pct(allocationScore(problem, after))} ${Date.now() - t} ms (${lns.solves} solves)`);
  console.log(`| ${name} | ${pct(allocationScore(problem, packed))} | ${cells.join(' | ')} |`);
  if (process.env.TRACE) console.log(`  ${trace.filter((_, i) => i % 4 === 3).join(' ')}`);
}
