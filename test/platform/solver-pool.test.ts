import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResult } from '../../src/core/clearing/check-result.js';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { mediumRound } from '../../src/core/clearing/random-rounds.test-helpers.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { ModelBuilder } from '../../src/core/clearing/solver-port.js';
import { SolverPool } from '../../src/platform/solver-pool/solver-pool.js';
import { buildService } from '../support/service-process.js';

const WORKER = pathToFileURL(
  join(resolve(import.meta.dirname, '../..'), 'dist/platform/solver-pool/solver-pool.worker.js'),
);

/** A knapsack: maximise sum v_i x_i with sum w_i x_i <= capacity, x binary. */
function knapsack(values: number[], weights: number[], capacity: number) {
  const m = new ModelBuilder();
  const row = m.addRow(-Infinity, capacity);
  values.forEach((v, i) => m.addCol(v, 1, true, [row], [weights[i]]));
  return m.build();
}

describe('SolverPool: HiGHS on worker threads', () => {
  let pool: SolverPool;
  beforeAll(async () => {
    buildService();
    pool = new SolverPool({ threads: 2, workerUrl: WORKER });
    expect(pool.threads).toBe(2);
    await pool.ready();
  }, 180_000);
  afterAll(() => pool.close());

  it('solves several models at once, each as the calling thread would', async () => {
    const models = [
      knapsack([10, 13, 7, 8], [5, 6, 3, 4], 10),
      knapsack([4, 5, 6], [1, 2, 3], 4),
      knapsack([9, 9, 9], [4, 4, 4], 8),
    ];
    const deadline = Date.now() + 30_000;
    const pooled = await Promise.all(models.map((model) => pool.solve({ model, deadline })));
    const inline = new HighsBackend();
    for (let i = 0; i < models.length; i++) {
      const alone = await inline.solve({ model: models[i], deadline });
      expect(pooled[i].status).toBe('optimal');
      expect(pooled[i].objective).toBeCloseTo(alone.objective!, 9);
      expect(Array.from(pooled[i].colValue!)).toEqual(Array.from(alone.colValue!));
    }
    expect(pooled.map((o) => o.objective)).toEqual([21, 10, 18]);
  });

  it('counts the calling thread as a lane', () => {
    expect(pool.concurrency).toBe(3);
  });

  it('solves the MIP phase of a round, whose result is valid and no worse than the greedy', async () => {
    const s = mediumRound(2);
    let sent = 0;
    const counted = {
      name: pool.name,
      concurrency: pool.concurrency,
      solve: (request: Parameters<SolverPool['solve']>[0]) => (sent++, pool.solve(request)),
    };
    const result = await clearRound(s, { timeLimitMs: 20_000, backend: new HighsBackend(), partsSolver: counted });
    expect(result.stats.parts).toBeGreaterThan(0);
    expect(sent).toBe(result.stats.parts);
    expect(checkResult(s, result)).toEqual([]);
    expect(result.welfare.toNumber()).toBeGreaterThanOrEqual(Number(result.stats.heuristicWelfare) - 1e-6);
  }, 60_000);

  it("takes a thread's answer while the calling thread keeps solving inline", async () => {
    // A caller that keeps solves in flight (the MIP parts, improve-parts.ts) sends the next one
    // when an answer is back: a thread's answer must not wait until the calling thread stops
    // solving inline, or the thread idles while the calling thread solves the rest.
    const model = knapsack([10, 13, 7, 8], [5, 6, 3, 4], 10);
    const deadline = Date.now() + 30_000;
    // HiGHS compiled on this thread already, so that no inline solve waits for it (which would let the answer in).
    await new HighsBackend().solve({ model, deadline });
    const busy = [...Array(3).keys()].map(() => pool.solve({ model, deadline }));
    let back = false;
    void busy[0].then(() => (back = true));
    let inline = 0;
    while (!back && inline < 500) {
      await pool.solve({ model: knapsack([4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6], 12), deadline });
      inline++;
    }
    expect(back).toBe(true);
    expect(inline).toBeLessThan(500);
    await Promise.all(busy);
  });

  it('with threads 0, solves on the calling thread', async () => {
    const none = new SolverPool({ threads: 0, workerUrl: WORKER });
    expect(none.threads).toBe(0);
    expect(none.concurrency).toBe(1);
    const outcome = await none.solve({ model: knapsack([4, 5, 6], [1, 2, 3], 4), deadline: Date.now() + 10_000 });
    expect(outcome.objective).toBe(10);
    await none.close();
  });
});
