import { allocationScore } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { lpPacking, PACKING_WAYS } from '../../src/core/clearing/heuristics/lp-packing.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/packing-probe.js [BIDS NODES] [SEEDS]` after `npm run
 * bench:clearing`: each way of the LP packing alone (lp-packing.ts PACKING_WAYS) on both shapes
 * and every seed: its packing score over the LP bound, how often it is the best of the ways, and
 * how far short of the best it falls on average.
 */
const bids = Number(process.argv[2] ?? 1000);
const nodes = Number(process.argv[3] ?? 250);
const seeds = (process.argv[4] ?? '1,2,3,4,5,6,7,8,9,10,42').split(',').map(Number);
const highs = new HighsBackend();
const wins = PACKING_WAYS.map(() => 0);
const short = PACKING_WAYS.map(() => 0);
let rounds = 0;
console.log(`${bids} x ${nodes}: ${PACKING_WAYS.join(' | ')}`);
for (const seed of seeds)
  for (const [shape, generate] of [
    ['instance', generateInstance],
    ['contested', generateContested],
  ] as const) {
    const problem = buildRoundProblem(generate(bids, nodes, seed));
    const relaxed = (await upperBound(problem, highs, Date.now() + 600_000, Date.now))!;
    const scores = PACKING_WAYS.map(
      (_, way) => (100 * allocationScore(problem, lpPacking(problem, relaxed, { ways: [way] }))) / relaxed.bound,
    );
    const best = Math.max(...scores);
    scores.forEach((score, way) => {
      short[way] += best - score;
      if (score >= best - 1e-9) wins[way]++;
    });
    rounds++;
    console.log(`${shape} ${seed}: ${scores.map((x) => x.toFixed(3)).join(' | ')}`);
  }
console.log(`best on: ${wins.join(' | ')} of ${rounds}`);
console.log(`short of the best, mean points: ${short.map((x) => (x / rounds).toFixed(3)).join(' | ')}`);
