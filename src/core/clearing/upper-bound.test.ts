import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import type { SolveRequest, SolverBackend } from './solver-port.js';
import { exhaustiveOptimum, mediumRound, roundArbitrary } from './random-rounds.test-helpers.js';
import { bid, node, snapshot } from './snapshot-fixtures.js';
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

  it.each([
    ['as configured', undefined],
    ['with whole-gang caps on gangs of every size', 2],
  ])(
    'cut short after its first LP, still reports a proven bound: at least the whole LP optimum (%s)',
    async (_, minCappedGang) => {
      let cut = 0;
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const problem = buildRoundProblem(mediumRound(seed, 48, 400));
        const whole = await upperBound(problem, highs, Date.now() + 60_000, Date.now, minCappedGang);
        expect(whole?.complete).toBe(true);
        const slow = slowAfterFirst(highs, Date.now() + 20);
        const partial = await upperBound(problem, slow, Date.now() + 20, Date.now, minCappedGang);
        expect(partial).not.toBeNull();
        expect(partial!.bound).toBeGreaterThanOrEqual(whole!.bound - 1e-6 * Math.max(1, whole!.bound));
        if (!partial!.complete) cut++;
        else expect(partial!.bound).toBeCloseTo(whole!.bound, 6);
      }
      // The rounds are big enough that the first LP does not hold every offer that pays.
      expect(cut).toBeGreaterThan(0);
    },
  );

  it('is never below the optimum of a random small round (fast-check, brute force)', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (s) => {
        const problem = buildRoundProblem(s);
        // The clearing asks for a bound only where there is something to decide.
        fc.pre(problem.bids.some((b) => b.options.length > 0) || problem.flexibleLeases.length > 0);
        const optimum = exhaustiveOptimum(s).toNumber();
        // As configured, and with whole-gang caps on gangs of every size (these rounds' gangs are small).
        for (const minCappedGang of [undefined, 2]) {
          const relaxed = await upperBound(problem, highs, Date.now() + 60_000, Date.now, minCappedGang);
          expect(relaxed!.bound).toBeGreaterThanOrEqual(optimum - 1e-6 * Math.max(1, Math.abs(optimum)));
        }
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  // A block of 48 free GPUs holds one 32-GPU block gang, not one and a half: the bound is the
  // integer optimum (32 GPUs at 3.00 over a 1.00 reserve), where the plain LP said 96.
  it.each([
    ['one atom: a column cap', '1.00'],
    ['two atoms of different reserves: a row over both', '1.50'],
  ])('caps a block at whole gangs (%s)', async (_, secondReserve) => {
    const s = snapshot({
      nodes: [
        node('n0', { gpus: 32, block: 'b', reserve: '1.00' }),
        node('n1', { gpus: 16, block: 'b', reserve: secondReserve }),
      ],
      bids: [
        bid('a', 32, { H100: '3.00' }, { contiguity: 'block' }),
        bid('b', 32, { H100: '3.00' }, { contiguity: 'block' }),
      ],
    });
    const relaxed = await upperBound(buildRoundProblem(s), highs, Date.now() + 60_000, Date.now);
    expect(relaxed!.bound).toBeCloseTo(64, 6);
    expect(exhaustiveOptimum(s).toNumber()).toBeCloseTo(64, 6);
  });

  // Two 32-GPU gangs with different eligible nodes in one block of 48 GPUs: the block holds one
  // of them, whichever. Capped class by class, each could use 32 and the LP placed one and a half (96).
  it('caps a block at whole gangs across gangs of the same size with different eligible nodes', async () => {
    const s = snapshot({
      nodes: [
        node('n0', { gpus: 32, block: 'b', region: 'us-east' }),
        node('n1', { gpus: 16, block: 'b', region: 'us-west' }),
      ],
      bids: [
        bid('anywhere', 32, { H100: '3.00' }, { contiguity: 'block' }),
        bid('east', 32, { H100: '3.00' }, { contiguity: 'block', regions: ['us-east'] }),
      ],
    });
    const relaxed = await upperBound(buildRoundProblem(s), highs, Date.now() + 60_000, Date.now);
    expect(exhaustiveOptimum(s).toNumber()).toBeCloseTo(64, 6);
    expect(relaxed!.bound).toBeCloseTo(64, 6);
  });

  // The first LP's duals price a capped block gang's GPUs above its atom's: the Lagrangian
  // bound of a cut-short pricing must count what that capped flow earns, or it falls below the LP.
  it('cut short with a capped gang at its cap, the Lagrangian bound still covers the whole LP', async () => {
    const s = snapshot({
      nodes: [
        node('n0', { gpus: 32, block: 'b', reserve: '1.00' }),
        node('n1', { gpus: 16, block: 'b', reserve: '1.00' }),
        node('a0', { gpus: 8, gpuModel: 'A100', block: 'a', reserve: '1.00' }),
      ],
      bids: [
        bid('gang', 32, { H100: '5.00' }, { contiguity: 'block' }),
        ...Array.from({ length: 100 }, (_, i) => bid(`h${i}`, 1, { H100: '3.00' })),
        ...Array.from({ length: 20 }, (_, i) => bid(`a${i}`, 1, { A100: '1.50' })),
      ],
    });
    const problem = buildRoundProblem(s);
    const whole = await upperBound(problem, highs, Date.now() + 60_000, Date.now);
    expect(whole?.complete).toBe(true);
    const partial = await upperBound(problem, slowAfterFirst(highs, Date.now() + 20), Date.now() + 20, Date.now);
    expect(partial?.complete).toBe(false);
    expect(partial!.bound).toBeGreaterThanOrEqual(whole!.bound - 1e-6);
  });
});
