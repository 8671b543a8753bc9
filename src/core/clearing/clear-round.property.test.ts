import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import { LpSolverBackend } from '../solvers/lp-solver-backend.js';
import { checkResult } from './check-result.js';
import { clearRound } from './clear-round.js';
import { exhaustiveOptimum, roundArbitrary } from './random-rounds.test-helpers.js';
import { serializeSnapshot } from './snapshot-file.js';

describe('clearRound on random small rounds (fast-check)', () => {
  it('satisfies every validity rule, reaches the exhaustive optimum and leaves the snapshot unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (s) => {
        const before = JSON.stringify(serializeSnapshot(s));
        const result = await clearRound(s, { timeLimitMs: 20_000, backend: new HighsBackend() });
        expect(checkResult(s, result)).toEqual([]);
        expect(result.welfare.toFixed(4)).toBe(exhaustiveOptimum(s).toFixed(4));
        expect(JSON.stringify(serializeSnapshot(s))).toBe(before);
        for (const p of result.prices) expect(p.price.isNegative()).toBe(false);
        expect(result.placements.length + result.losses.length).toBe(s.bids.length);
      }),
      { numRuns: 150, seed: 20261121 },
    );
  });

  it('javascript-lp-solver, an independent backend, agrees with HiGHS on the welfare', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (s) => {
        const [highs, lpSolver] = await Promise.all([
          clearRound(s, { backend: new HighsBackend() }),
          clearRound(s, { backend: new LpSolverBackend() }),
        ]);
        expect(checkResult(s, lpSolver)).toEqual([]);
        expect(lpSolver.welfare.toFixed(4)).toBe(highs.welfare.toFixed(4));
      }),
      { numRuns: 60, seed: 7 },
    );
  });
});
