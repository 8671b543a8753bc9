import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResult } from '../../src/core/clearing/check-result.js';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { mediumRound } from '../../src/core/clearing/random-rounds.test-helpers.js';
import { bid, node, snapshot } from '../../src/core/clearing/snapshot-fixtures.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { ClearingRunner } from '../../src/modules/market/clearing-runner.service.js';
import { buildService } from '../support/service-process.js';

const WORKER = pathToFileURL(join(resolve(import.meta.dirname, '../..'), 'dist/modules/market/clearing-worker.js'));

const small = () =>
  snapshot({
    nodes: [node('h', { compliance: ['hipaa'], reserve: '1.10' }), node('n', { reserve: '1.20' })],
    bids: [
      bid('x', 8, { H100: '3.00' }, { contiguity: 'node' }),
      bid('z', 8, { H100: '3.00' }, { contiguity: 'node', compliance: ['hipaa'] }),
      bid('y', 4, { H100: '2.00' }),
    ],
  });

describe('ClearingRunner: rounds clear on a worker thread', () => {
  let runner: ClearingRunner;
  beforeAll(() => {
    buildService();
    runner = new ClearingRunner({ workerUrl: WORKER });
    expect(runner.threaded).toBe(true);
  }, 120_000);
  // The thread compiles HiGHS first; the tests below are about rounds after that.
  beforeAll(async () => void (await runner.clear(small(), 120_000)), 120_000);
  afterAll(() => runner.onApplicationShutdown());

  it('gives the result the core gives on the calling thread', async () => {
    const s = small();
    const [threaded, inline] = [
      await runner.clear(s, 5_000),
      await clearRound(s, { timeLimitMs: 5_000, backend: new HighsBackend() }),
    ];
    expect(checkResult(s, threaded)).toEqual([]);
    expect(threaded.status).toBe('optimal');
    expect(threaded.welfare.toFixed(4)).toBe(inline.welfare.toFixed(4));
    expect(threaded.placements).toEqual(inline.placements);
    expect(threaded.prices.map((p) => [p.gpuModel, p.region, p.price.toFixed(4), p.marginalBidId])).toEqual(
      inline.prices.map((p) => [p.gpuModel, p.region, p.price.toFixed(4), p.marginalBidId]),
    );
    expect(threaded.losses).toEqual(inline.losses);
  });

  it('after its first (cold) round, the thread searches beside a search lane of its own', async () => {
    const s = mediumRound(11);
    const result = await runner.clear(s, 3_000);
    expect(checkResult(s, result)).toEqual([]);
    expect(['better', 'not better']).toContain(result.stats.lane);
  });

  it('keeps the event loop turning while a long round clears, so the API answers during rounds', async () => {
    const s = mediumRound(1, 400, 6_000);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    const result = await runner.clear(s, 2_000);
    const elapsed = Date.now() - started;
    clearInterval(timer);
    expect(checkResult(s, result)).toEqual([]);
    expect(elapsed).toBeGreaterThan(1_000);
    // A blocked loop would tick a handful of times; a free one about every 10 ms.
    expect(ticks).toBeGreaterThan(elapsed / 10 / 3);
  });

  it('stops a round that runs past its limit and grace, clears it with the greedy, and clears the next on a fresh thread', async () => {
    const impatient = new ClearingRunner({ workerUrl: WORKER, graceMs: () => 0 });
    try {
      expect((await impatient.clear(small(), 60_000)).stats.solver).toBe('highs');
      const s = mediumRound(2, 400, 6_000);
      const cut = await impatient.clear(s, 1);
      expect(cut.stats.solver).toBe('greedy');
      expect(String(cut.stats.fallback)).toContain('past its limit');
      expect(checkResult(s, cut)).toEqual([]);
      const again = await impatient.clear(small(), 60_000);
      expect(again.stats.solver).toBe('highs');
    } finally {
      await impatient.onApplicationShutdown();
    }
  });

  it('clears a round that finds the thread still compiling HiGHS with the greedy, and lets the thread finish starting', async () => {
    const fresh = new ClearingRunner({ workerUrl: WORKER });
    try {
      const early = await fresh.clear(small(), 1);
      expect(early.stats.solver).toBe('greedy');
      expect(String(early.stats.fallback)).toContain('still starting');
      expect((await fresh.clear(small(), 60_000)).stats.solver).toBe('highs');
    } finally {
      await fresh.onApplicationShutdown();
    }
  });
});
