import { describe, expect, it } from 'vitest';
import { mediumRound } from '../random-rounds.test-helpers.js';
import { buildRoundProblem } from '../round-problem.js';
import { bid, node, snapshot } from '../snapshot-fixtures.js';
import { upperBound } from '../upper-bound.js';
import { allocationScore, greedyAllocate } from './greedy-heuristic.js';
import { HighsBackend } from '../../solvers/highs-backend.js';
import { lpPacking } from './lp-packing.js';

const relax = async (s: Parameters<typeof buildRoundProblem>[0]) => {
  const problem = buildRoundProblem(s);
  const relaxed = await upperBound(problem, new HighsBackend(), Date.now() + 30_000, Date.now);
  if (!relaxed) throw new Error('the LP did not solve');
  return { problem, relaxed };
};

describe('lpPacking', () => {
  it('places the biggest gangs first, so an NVLink rack goes to the gang that needs all of it', async () => {
    const s = snapshot({
      nodes: [
        node('a', { nvlinkDomain: 'rack', block: 'b' }),
        node('b', { nvlinkDomain: 'rack', block: 'b' }),
        node('c', { block: 'b', reserve: '1.20' }),
      ],
      bids: [
        bid('x', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('y', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('z', 16, { H100: '2.00' }, { contiguity: 'nvlink' }),
      ],
    });
    const { problem, relaxed } = await relax(s);
    const packed = lpPacking(problem, relaxed);
    expect(packed.assignments.map((a) => problem.bids[a.bid].bid.id).sort()).toEqual(['x', 'y', 'z']);
  });

  it('is at least as good as the greedy on a mid-sized round', async () => {
    for (const seed of [1, 2, 3]) {
      const { problem, relaxed } = await relax(mediumRound(seed));
      expect(allocationScore(problem, lpPacking(problem, relaxed))).toBeGreaterThanOrEqual(
        allocationScore(problem, greedyAllocate(problem)),
      );
    }
  });
});
