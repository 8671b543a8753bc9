import { loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/ab-probe.js BASE_DIST BUDGET BIDS NODES SEEDS`: each round
 * cleared by the engine compiled at BASE_DIST (another checkout's dist/bench) and by this one,
 * interleaved in one process: welfare over the LP bound.
 */
const [base, budgetArg, bidsArg, nodesArg, seedsArg] = process.argv.slice(2);
const other = (await import(`${base}/src/core/solvers/solver-for.js`)) as { clearWithSolver: typeof clearWithSolver };
const budget = Number(budgetArg ?? 1000);
const bids = Number(bidsArg ?? 1000);
const nodes = Number(nodesArg ?? 250);
const seeds = (seedsArg ?? '1,2,3,4,5,6,7,8').split(',').map(Number);
for (const f of [other.clearWithSolver, clearWithSolver])
  await f(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
console.log(`load ${loadavg()[0].toFixed(2)}, ${bids} x ${nodes}, ${budget} ms: base | this`);
const sums = [0, 0];
let n = 0;
for (const seed of seeds)
  for (const [shape, gen] of [
    ['instance', generateInstance],
    ['contested', generateContested],
  ] as const) {
    const snapshot = gen(bids, nodes, seed);
    const cells: string[] = [];
    for (const [i, f] of [other.clearWithSolver, clearWithSolver].entries()) {
      const r = await f(snapshot, { timeLimitMs: budget, seed: 42 });
      const ratio = (100 * r.welfare.toNumber()) / Number(r.upperBound);
      sums[i] += ratio;
      cells.push(`${ratio.toFixed(3)} (${r.stats.solveMs} ms)`);
    }
    n++;
    console.log(`${shape} ${seed}: ${cells.join(' | ')}`);
  }
console.log(`mean: ${sums.map((s) => (s / n).toFixed(3)).join(' | ')}; load ${loadavg()[0].toFixed(2)}`);
