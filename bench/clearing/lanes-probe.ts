import { probeRounds } from './probe-rounds.js';
import { availableParallelism, loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { SolverPool } from '../../src/platform/solver-pool/solver-pool.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/lanes-probe.js [BUDGET_MS] [REPS]`: the 1,000 x 250 rounds of
 * both shapes cleared alone and with the pool's threads as extra MIP lanes, in one process,
 * interleaved.
 */
const budget = Number(process.argv[2] ?? 1000);
const reps = Number(process.argv[3] ?? 3);
const pool = new SolverPool({ threads: Math.max(1, availableParallelism() - 1) });
await pool.ready();
for (let i = 0; i < 2; i++) {
  await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
  await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000, partsSolver: pool });
}
console.log(`cores ${availableParallelism()}, load ${loadavg()[0].toFixed(1)}, budget ${budget} ms`);
console.log('| round | alone | pool lanes |');
console.log('| --- | --- | --- |');
for (const [name, s] of probeRounds()) {
  const cells: string[][] = [[], []];
  let ub = 0;
  for (let rep = 0; rep < reps; rep++) {
    const runs = [
      await clearWithSolver(s, { timeLimitMs: budget, seed: 42 }),
      await clearWithSolver(s, { timeLimitMs: budget, seed: 42, partsSolver: pool }),
    ];
    ub = Number(runs[0].upperBound ?? 0);
    runs.forEach((r, i) =>
      cells[i].push(`${((100 * r.welfare.toNumber()) / Number(r.upperBound ?? ub)).toFixed(3)}% ${r.stats.solveMs} ms`),
    );
  }
  console.log(`| ${name} | ${cells.map((c) => c.join(', ')).join(' | ')} |`);
}
await pool.close();
