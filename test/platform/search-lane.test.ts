import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResult } from '../../src/core/clearing/check-result.js';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { mediumRound } from '../../src/core/clearing/random-rounds.test-helpers.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { fitsProblem } from '../../src/core/clearing/search-lane.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { SearchLaneThread } from '../../src/platform/search-lane/search-lane.js';
import { lease } from '../../src/core/clearing/snapshot-fixtures.js';
import { buildService } from '../support/service-process.js';

const WORKER = pathToFileURL(
  join(resolve(import.meta.dirname, '../..'), 'dist/platform/search-lane/search-lane.worker.js'),
);

async function relaxed(seed: number) {
  const s = mediumRound(seed);
  const problem = buildRoundProblem(s);
  const lp = await upperBound(problem, new HighsBackend(), Date.now() + 30_000, Date.now);
  if (!lp) throw new Error('the LP did not solve');
  return { s, problem, lp };
}

describe('SearchLaneThread: the search lane on a worker thread', () => {
  let lane: SearchLaneThread;
  beforeAll(() => {
    buildService();
    lane = new SearchLaneThread({ workerUrl: WORKER });
  }, 180_000);
  afterAll(() => lane.close());

  it("answers with an allocation of the round's own problem, built on its thread from the snapshot", async () => {
    const { s, problem, lp } = await relaxed(3);
    const round = lane.open(s);
    const answer = await round.search(lp, 30_000);
    round.close();
    expect(answer).not.toBeNull();
    expect(answer!.converged).toBe(true);
    expect(fitsProblem(problem, answer!.allocation)).toBe(true);
  });

  it('stops when asked and answers with what it has, long before its deadline', async () => {
    // A round the search cannot finish in the few ms before stop() is read: it answers cut short
    // (not converged) instead of after its 10 minutes, which would fail the test's own timeout.
    const { s, problem, lp } = await relaxed(9);
    const round = lane.open(s);
    const searching = round.search(lp, 600_000);
    round.stop();
    const answer = await searching;
    round.close();
    expect(answer).not.toBeNull();
    expect(answer!.converged).toBe(false);
    expect(fitsProblem(problem, answer!.allocation)).toBe(true);
  }, 60_000);

  it('answers null for a snapshot it cannot build, and serves the next round', async () => {
    const { s, lp } = await relaxed(3);
    // A lease on a node the round does not have: the thread's snapshot check refuses it.
    const broken = lane.open({ ...s, leases: [lease('ghost-lease', { ghost: 2 }, '2.00')] });
    expect(await broken.search(lp, 5_000)).toBeNull();
    expect(lane.lastError).toMatch(/.+/);
    broken.close();
    const round = lane.open(s);
    expect(await round.search(lp, 30_000)).not.toBeNull();
    round.close();
  });

  it('gives up on a thread that does not answer by the deadline and its grace, and replaces it', async () => {
    const { s, lp } = await relaxed(3);
    const stuck = new SearchLaneThread({
      workerUrl: pathToFileURL(join(import.meta.dirname, 'silent-worker.mjs')),
      graceMs: 100,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const round = stuck.open(s);
        expect(await round.search(lp, 50)).toBeNull();
        round.close();
      }
    } finally {
      await stuck.close();
    }
  });

  it('clears a round with the lane beside it: valid, and the lane answered', async () => {
    const s = mediumRound(11);
    const result = await clearRound(s, { backend: new HighsBackend(), timeLimitMs: 3_000, lane });
    expect(checkResult(s, result)).toEqual([]);
    expect(['better', 'not better']).toContain(result.stats.lane);
  });
});
