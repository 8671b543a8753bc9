import { describe, expect, it } from 'vitest';
import { buildRoundProblem } from '../round-problem.js';
import { bid, node, placedNodes, snapshot } from '../snapshot-fixtures.js';
import type { Allocation } from '../allocation.js';
import { allocationScore } from './greedy-heuristic.js';
import { repackRacks } from './repack-racks.js';

const rack = ['r1', 'r2', 'r3', 'r4'].map((id) => node(id, { nvlinkDomain: 'rack', block: 'b' }));

/** The 32-GPU NVLink gang on the whole rack, the 16-GPU ones losing. */
function roundWithBigGang(smallPrice: string) {
  const problem = buildRoundProblem(
    snapshot({
      nodes: rack,
      bids: [
        bid('big', 32, { H100: '2.00' }, { contiguity: 'nvlink' }),
        bid('s1', 16, { H100: smallPrice }, { contiguity: 'nvlink' }),
        bid('s2', 16, { H100: smallPrice }, { contiguity: 'nvlink' }),
      ],
    }),
  );
  const big = problem.bids.find((b) => b.bid.id === 'big')!;
  const allocation: Allocation = {
    assignments: [{ bid: big.index, option: 0, shares: [0, 1, 2, 3].map((n) => ({ node: n, gpus: 8 })) }],
    preempted: [],
  };
  return { problem, allocation };
}

const far = { deadline: Date.now() + 60_000, clock: Date.now };

describe('repackRacks', () => {
  it('trades a big gang on a rack for the smaller NVLink gangs worth more there', () => {
    const { problem, allocation } = roundWithBigGang('2.20');
    const repacked = repackRacks(problem, allocation, far);
    expect(repacked.improved).toBe(true);
    expect(placedNodes(problem, repacked.allocation)).toEqual({ s1: ['r1', 'r2'], s2: ['r3', 'r4'] });
    expect(allocationScore(problem, repacked.allocation)).toBeGreaterThan(allocationScore(problem, allocation));
  });

  it('keeps the rack as it is when its gang is worth more than those that could replace it', () => {
    const { problem, allocation } = roundWithBigGang('1.80');
    const repacked = repackRacks(problem, allocation, far);
    expect(repacked.improved).toBe(false);
    expect(repacked.allocation.assignments).toEqual(allocation.assignments);
  });

  it('moves a gang that needs no rack off it when that makes room for the NVLink gangs', () => {
    // 'one' holds a GPU of the rack: while it stays there, only one 16-GPU gang fits.
    const problem = buildRoundProblem(
      snapshot({
        nodes: [...rack, node('x', { block: 'b' })],
        bids: [
          bid('big', 31, { H100: '2.00' }, { contiguity: 'nvlink' }),
          bid('one', 1, { H100: '2.00' }, { contiguity: 'node' }),
          bid('s1', 16, { H100: '2.20' }, { contiguity: 'nvlink' }),
          bid('s2', 16, { H100: '2.20' }, { contiguity: 'nvlink' }),
        ],
      }),
    );
    const index = (id: string) => problem.bids.find((b) => b.bid.id === id)!.index;
    const allocation: Allocation = {
      assignments: [
        { bid: index('big'), option: 0, shares: [8, 8, 8, 7].map((gpus, n) => ({ node: n, gpus })) },
        { bid: index('one'), option: 0, shares: [{ node: 3, gpus: 1 }] },
      ],
      preempted: [],
    };
    const repacked = repackRacks(problem, allocation, far);
    expect(placedNodes(problem, repacked.allocation)).toEqual({ one: ['x'], s1: ['r1', 'r2'], s2: ['r3', 'r4'] });
  });
});
