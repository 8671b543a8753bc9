import { availableParallelism, loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { improveByParts } from '../../src/core/clearing/improve-parts.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { greedyAllocate } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { improveLocally } from '../../src/core/clearing/heuristics/local-search.js';
import type { RoundSnapshot } from '../../src/core/market/types.js';
import { SolverPool } from '../../src/platform/solver-pool/solver-pool.js';

/**
 * `npm run bench:clearing -- --parallel`: what the MIP phase gains from a pool of solver
 * threads (issue 14, item 3). Two measures per round, each in its own process:
 * - the same work, timed: every part of the round solved (to HiGHS' 1e-4 gap, or 20 s a part)
 *   from one start allocation, with 1 lane (the calling thread) and with `lanes` (the calling
 *   thread and lanes - 1 pool threads); the speed-up is the ratio of the two wall times;
 * - the round as the service clears it, under its budget, with and without the pool.
 */
export interface ParallelMeasure {
  parts: number;
  lanes: number;
  oneLaneMs: number;
  pooledMs: number;
  sameResult: boolean;
  budgetMs: number;
  welfareAlone: string;
  welfarePooled: string;
  upperBound: string | null;
  mipAloneMs: number;
  mipPooledMs: number;
}

export async function measureParallel(
  snapshot: RoundSnapshot,
  budgetMs: number,
  threads: number,
  seed: number,
): Promise<ParallelMeasure> {
  const pool = new SolverPool({ threads });
  await pool.ready();
  const warm = snapshot;
  await clearWithSolver(warm, { timeLimitMs: budgetMs });
  await clearWithSolver(warm, { timeLimitMs: budgetMs, partsSolver: pool });

  const problem = buildRoundProblem(snapshot);
  const start = improveLocally(problem, greedyAllocate(problem), { deadline: Date.now() + 300, clock: Date.now });
  const timed = async (backend: HighsBackend | SolverPool) => {
    const began = Date.now();
    const outcome = await improveByParts(problem, start, backend, Date.now() + 20_000 * 64, seed, Date.now);
    return { ms: Date.now() - began, outcome };
  };
  const one = await timed(new HighsBackend());
  const pooled = await timed(pool);
  const key = (a: typeof one.outcome.allocation) =>
    JSON.stringify(a.assignments.map((x) => [x.bid, x.option, x.shares]).sort());

  const alone = await clearWithSolver(snapshot, { timeLimitMs: budgetMs, seed });
  const withPool = await clearWithSolver(snapshot, { timeLimitMs: budgetMs, seed, partsSolver: pool });
  await pool.close();
  return {
    parts: one.outcome.parts,
    lanes: pool.concurrency,
    oneLaneMs: one.ms,
    pooledMs: pooled.ms,
    sameResult: key(one.outcome.allocation) === key(pooled.outcome.allocation),
    budgetMs,
    welfareAlone: alone.welfare.toFixed(4),
    welfarePooled: withPool.welfare.toFixed(4),
    upperBound: withPool.upperBound?.toFixed(4) ?? alone.upperBound?.toFixed(4) ?? null,
    mipAloneMs: alone.stats.phases.mip ?? 0,
    mipPooledMs: withPool.stats.phases.mip ?? 0,
  };
}

export function parallelHeader(): string {
  return [
    `Host: ${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)} at the start.`,
    '',
    '| round | seed | parts | all parts, 1 lane | all parts, pooled (lanes) | speed-up | same allocation | budget | welfare / UB: 1 lane (MIP ms) | pooled (MIP ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ].join('\n');
}

export function parallelRow(name: string, seed: number, m: ParallelMeasure): string {
  const pct = (w: string) => (m.upperBound ? `${((100 * Number(w)) / Number(m.upperBound)).toFixed(3)}%` : w);
  return `| ${name} | ${seed} | ${m.parts} | ${m.oneLaneMs} ms | ${m.pooledMs} ms (${m.lanes}) | ${(m.oneLaneMs / Math.max(1, m.pooledMs)).toFixed(2)}x | ${m.sameResult ? 'yes' : 'no'} | ${m.budgetMs} ms | ${pct(m.welfareAlone)} (${m.mipAloneMs}) | ${pct(m.welfarePooled)} (${m.mipPooledMs}) |`;
}
