import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import { clearRound } from './clear-round.js';
import { priceDecisions } from './price-round.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import type { SolveRequest, SolverBackend } from './solver-port.js';

/**
 * HiGHS, recording each solve's deadline. `roomy`: HiGHS gets a minute whatever the deadline
 * says, for tests whose clock is not the wall clock.
 */
function recording(roomy = false): SolverBackend & { deadlines: number[] } {
  const highs = new HighsBackend();
  const backend = {
    name: 'recording',
    deadlines: [] as number[],
    solve: (request: SolveRequest) => {
      backend.deadlines.push(request.deadline);
      return highs.solve(roomy ? { ...request, deadline: Date.now() + 60_000 } : request);
    },
  };
  return backend;
}

/** A clock at 0 that jumps to `demandMs` once read (the demand's build) and then stays there. */
function slowDemandClock(demandMs: number): () => number {
  let reads = 0;
  return () => (reads++ === 0 ? 0 : demandMs);
}

describe('priceRound under a deadline', () => {
  const snapshot = mediumRound(5);
  const decided = clearRound(snapshot, { backend: null, deterministic: true });

  it('prices a cold round by the envy-free levels alone, without the LP, when too little is left after the demand', async () => {
    const backend = recording();
    // 100 ms to build the demand, 150 left: the LP's path needs ~3 times the demand's time.
    const prices = await priceDecisions(snapshot, await decided, {
      backend,
      deadline: 250,
      clock: slowDemandClock(100),
      cold: true,
    });
    expect(prices.stats).toMatchObject({ method: 'levels', fallback: 'deadline' });
    expect(backend.deadlines).toHaveLength(0);
  });

  it('tries the LP in a warm round whatever the demand took', async () => {
    const backend = recording();
    await priceDecisions(snapshot, await decided, { backend, deadline: 250, clock: slowDemandClock(100) });
    expect(backend.deadlines.length).toBeGreaterThan(0);
  });

  it('stops the price LP early enough for the description and the result, warm or cold', async () => {
    // 100 ms to build the demand: the LP must be done 75 ms before the round's deadline.
    for (const cold of [false, true]) {
      const backend = recording(true);
      await priceDecisions(snapshot, await decided, { backend, deadline: 1_000, clock: slowDemandClock(100), cold });
      expect(backend.deadlines.length).toBeGreaterThan(0);
      expect(backend.deadlines.every((d) => d === 925)).toBe(true);
    }
  });

  it('solves the price LP when the time left allows it', async () => {
    const backend = recording();
    const prices = await priceDecisions(snapshot, await decided, {
      backend,
      deadline: Date.now() + 60_000,
      clock: Date.now,
    });
    expect(prices.stats.method).toBe('lp');
    expect(backend.deadlines.length).toBeGreaterThan(0);
  });
});
