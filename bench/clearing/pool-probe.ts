import { availableParallelism, loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { SolverPool } from '../../src/platform/solver-pool/solver-pool.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';
import type { RoundSnapshot } from '../../src/core/market/types.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/pool-probe.js [BUDGET_MS] [REPS] [THREADS] [SEEDS] [BIDS NODES]` after
 * `npm run bench:clearing`: the six 1,000 x 250 probe rounds cleared warm on the calling thread
 * alone and with a pool of solver threads (default: cores - 1, as the service and `gpumarket
 * clear` run), interleaved in one process; welfare over the proven optimum (docs/benchmarks.md).
 * With SEEDS (e.g. 1,2,3): both shapes' rounds of those seeds instead (1,000 x 250 unless BIDS
 * and NODES are given), welfare over the LP bound.
 */
const OPTIMA: Record<string, number> = {
  'instance 42': 2854.67,
  'instance 7': 2534.75,
  'instance 1': 2243.41,
  'contested 1': 2433.43,
  'contested 2': 2647.08,
  'contested 3': 2214.4,
};
const budget = Number(process.argv[2] ?? 1000);
const reps = Number(process.argv[3] ?? 3);
const threads = Number(process.argv[4] ?? Math.max(1, availableParallelism() - 1));
const seeds = process.argv[5]?.split(',').map(Number);
const [bids, nodes] = [Number(process.argv[6] ?? 1000), Number(process.argv[7] ?? 250)];
const rounds: [string, RoundSnapshot][] = seeds
  ? seeds.flatMap((seed) => [
      [`instance ${seed}`, generateInstance(bids, nodes, seed)] as [string, RoundSnapshot],
      [`contested ${seed}`, generateContested(bids, nodes, seed)] as [string, RoundSnapshot],
    ])
  : probeRounds();
const pool = new SolverPool({ threads });
await pool.ready();
for (let i = 0; i < 2; i++) {
  await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
  await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000, partsSolver: pool });
}
console.log(
  `cores ${availableParallelism()}, pool threads ${pool.threads}, load ${loadavg()[0].toFixed(1)}, budget ${budget} ms`,
);
console.log('| round | calling thread alone | with the pool |');
console.log('| --- | --- | --- |');
const sums = [0, 0];
for (const [name, s] of rounds) {
  const cells: string[][] = [[], []];
  for (let rep = 0; rep < reps; rep++)
    for (const [i, partsSolver] of [undefined, pool].entries()) {
      const r = await clearWithSolver(s, { timeLimitMs: budget, seed: 42, partsSolver });
      const ratio = (100 * r.welfare.toNumber()) / (seeds ? Number(r.upperBound) : OPTIMA[name]);
      sums[i] += ratio / reps;
      cells[i].push(`${ratio.toFixed(3)}% ${r.stats.solveMs} ms`);
    }
  console.log(`| ${name} | ${cells.map((c) => c.join(', ')).join(' | ')} |`);
}
console.log(`| mean | ${sums.map((s) => `${(s / rounds.length).toFixed(3)}%`).join(' | ')} |`);
console.log(`load ${loadavg()[0].toFixed(1)}`);
await pool.close();
