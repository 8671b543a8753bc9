import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import type { SolveRequest, SolverBackend } from './solver-port.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import { buildRoundProblem } from './round-problem.js';
import { upperBound } from './upper-bound.js';

/** Solves every LP to the end, then lets the clock run past `deadline`: pricing stops after its first LP. */
function slowAfterFirst(inner: SolverBackend, deadline: number): SolverBackend {
  return {
    name: 'slow',
    async solve(request: SolveRequest) {
      const outcome = await inner.solve({ ...request, deadline: Date.now() + 60_000 });
      while (Date.now() <= deadline) await new Promise((r) => setTimeout(r, 5));
      return outcome;
    },
  };
}

describe('upperBound', () => {
  const highs = new HighsBackend();

  it('cut short after its first LP, still reports a proven bound: at least the whole LP optimum', async () => {
    let cut = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const problem = buildRoundProblem(mediumRound(seed, 48, 400));
      const whole = await upperBound(problem, highs, Date.now() + 60_000, Date.now);
      expect(whole?.complete).toBe(true);
      const partial = await upperBound(problem, slowAfterFirst(highs, Date.now() + 20), Date.now() + 20, Date.now);
      expect(partial).not.toBeNull();
      expect(partial!.bound).toBeGreaterThanOrEqual(whole!.bound - 1e-6 * Math.max(1, whole!.bound));
      if (!partial!.complete) cut++;
      else expect(partial!.bound).toBeCloseTo(whole!.bound, 6);
    }
    // The rounds are big enough that the first LP does not hold every offer that pays.
    expect(cut).toBeGreaterThan(0);
  });
});
