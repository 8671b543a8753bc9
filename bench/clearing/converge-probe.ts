import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { allocationScore } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { improveLocally } from '../../src/core/clearing/heuristics/local-search.js';
import { lpPacking } from '../../src/core/clearing/heuristics/lp-packing.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/converge-probe.js [BIDS NODES]` after `npm run
 * bench:clearing`: the local search alone, from the LP packing of each probe round, run until no
 * move improves (no deadline): its time, its score and a hash of the allocation it ends in. The
 * search is deterministic, so two builds that make the same moves print the same hashes, and
 * their times compare the search's speed (run both on the same machine, one after the other).
 */
const bids = Number(process.argv[2] ?? 1000);
const nodes = Number(process.argv[3] ?? 250);
console.log(`load at start ${loadavg()[0].toFixed(2)}, ${bids} x ${nodes}`);
for (const [name, snapshot] of probeRounds(bids, nodes)) {
  const problem = buildRoundProblem(snapshot);
  const relaxed = (await upperBound(problem, new HighsBackend(), Date.now() + 600_000, Date.now))!;
  const packed = lpPacking(problem, relaxed);
  // A short run first, so the timed one runs optimised code.
  improveLocally(problem, packed, { deadline: Date.now() + 200, clock: Date.now });
  const started = process.hrtime.bigint();
  const searched = improveLocally(problem, packed, { deadline: Infinity, clock: Date.now });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const hash = createHash('sha1').update(JSON.stringify(searched)).digest('hex').slice(0, 10);
  console.log(`${name}: ${ms.toFixed(0)} ms, score ${allocationScore(problem, searched).toFixed(2)}, ${hash}`);
}
