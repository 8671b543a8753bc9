import { describe, expect, it } from 'vitest';
import { mediumRound } from '../random-rounds.test-helpers.js';
import { buildRoundProblem } from '../round-problem.js';
import { bid, node, placedNodes, snapshot } from '../snapshot-fixtures.js';
import { upperBound } from '../upper-bound.js';
import { allocationScore, greedyAllocate } from './greedy-heuristic.js';
import { HighsBackend } from '../../solvers/highs-backend.js';
import { lpPacking, lpPackings, OFF_RACK_WAY } from './lp-packing.js';

const relax = async (s: Parameters<typeof buildRoundProblem>[0]) => {
  const problem = buildRoundProblem(s);
  const relaxed = await upperBound(problem, new HighsBackend(), Date.now() + 30_000, Date.now);
  if (!relaxed) throw new Error('the LP did not solve');
  return { problem, relaxed };
};

/** Two blocks of two nodes, one per region; west's GPUs dearer. */
const eastAndWest = () => [
  node('e1', { block: 'east', region: 'us-east' }),
  node('e2', { block: 'east', region: 'us-east' }),
  node('w1', { block: 'west', region: 'us-west', reserve: '1.20' }),
  node('w2', { block: 'west', region: 'us-west', reserve: '1.20' }),
];

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

  it('packs a gang with a single block before an equal gang that may use two, so both run', async () => {
    // x may run in either region and east is cheaper; y may only run in east. By size and index
    // alone x takes east first and y is lost; the LP places both.
    const s = snapshot({
      nodes: eastAndWest(),
      bids: [
        bid('x', 16, { H100: '3.00' }, { contiguity: 'block' }),
        bid('y', 16, { H100: '3.00' }, { contiguity: 'block', regions: ['us-east'] }),
      ],
    });
    const { problem, relaxed } = await relax(s);
    expect(placedNodes(problem, lpPacking(problem, relaxed))).toEqual({ x: ['w1', 'w2'], y: ['e1', 'e2'] });
  });

  it('keeps a bigger block gang off the NVLink rack that a chosen NVLink gang needs', async () => {
    // The rack's nodes are the block's cheapest: the 24-GPU block gang, packed first, would take
    // them and leave the 16-GPU NVLink gang no rack.
    const s = snapshot({
      nodes: [
        node('r1', { block: 'b', nvlinkDomain: 'rack' }),
        node('r2', { block: 'b', nvlinkDomain: 'rack' }),
        node('n3', { block: 'b', reserve: '1.20' }),
        node('n4', { block: 'b', reserve: '1.20' }),
        node('n5', { block: 'b', reserve: '1.20' }),
      ],
      bids: [
        bid('wide', 24, { H100: '3.00' }, { contiguity: 'block' }),
        bid('linked', 16, { H100: '3.00' }, { contiguity: 'nvlink' }),
      ],
    });
    const { problem, relaxed } = await relax(s);
    expect(placedNodes(problem, lpPacking(problem, relaxed))).toEqual({
      linked: ['r1', 'r2'],
      wide: ['n3', 'n4', 'n5'],
    });
  });

  it('moves a packed gang to its other block when a chosen gang that has no other room needs it', async () => {
    // By size the 16-GPU block gang goes first and takes the cheaper east block; the 4-GPU gang
    // may only run in east and finds it full. The LP places both, the block gang in west.
    const s = snapshot({
      nodes: eastAndWest(),
      bids: [
        bid('wide', 16, { H100: '3.00' }, { contiguity: 'block' }),
        bid('small', 4, { H100: '3.00' }, { contiguity: 'none', regions: ['us-east'] }),
      ],
    });
    const { problem, relaxed } = await relax(s);
    expect(placedNodes(problem, lpPacking(problem, relaxed))).toEqual({ wide: ['w1', 'w2'], small: ['e1'] });
  });

  it('stops trying further packings at its deadline, keeping the first', async () => {
    const { problem, relaxed } = await relax(mediumRound(1));
    let t = 0;
    // Every read of the clock is 10 ms later, so each packing "takes" 10 ms and reads it twice.
    lpPacking(problem, relaxed, { deadline: 1_000, clock: () => (t += 10) });
    expect(t).toBe(80);
    t = 0;
    // Past the deadline after the first: the second is not started.
    const packed = lpPacking(problem, relaxed, { deadline: 25, clock: () => (t += 10) });
    expect(t).toBe(30);
    expect(allocationScore(problem, packed)).toBeGreaterThanOrEqual(allocationScore(problem, greedyAllocate(problem)));
  });

  it('is at least as good as the greedy on a mid-sized round', async () => {
    for (const seed of [1, 2, 3]) {
      const { problem, relaxed } = await relax(mediumRound(seed));
      expect(allocationScore(problem, lpPacking(problem, relaxed))).toBeGreaterThanOrEqual(
        allocationScore(problem, greedyAllocate(problem)),
      );
    }
  });

  it('off-rack first: a gang that must touch the rack takes every other GPU first and as few of the rack as it can', async () => {
    // 'blk' (20 GPUs, packed first as the bigger) cannot stay off the rack 'nv' needs; the
    // rack's GPUs are cheaper, so the cheapest placement would take 20 of its 24.
    const { problem, relaxed } = await relax(
      snapshot({
        nodes: [
          ...['r1', 'r2', 'r3'].map((id) => node(id, { nvlinkDomain: 'rack', block: 'b' })),
          node('x', { block: 'b', reserve: '1.50' }),
        ],
        bids: [
          bid('blk', 20, { H100: '3.00' }, { contiguity: 'block' }),
          bid('nv', 10, { H100: '3.00' }, { contiguity: 'nvlink' }),
        ],
      }),
    );
    const [packed] = lpPackings(problem, relaxed, { ways: [OFF_RACK_WAY] });
    const gpusOn = (id: string) => {
      const a = packed.assignments.find((x) => problem.bids[x.bid].bid.id === id)!;
      return Object.fromEntries(a.shares.map((sh) => [problem.nodes[sh.node].node.id, sh.gpus]));
    };
    expect(gpusOn('blk')).toEqual({ x: 8, r1: 8, r2: 4 });
    expect(gpusOn('nv')).toEqual({ r2: 4, r3: 6 });
    // The ways a round tries itself place 'blk' on the cheaper rack first.
    expect(placedNodes(problem, lpPacking(problem, relaxed)).blk).toContain('r3');
  });
});
