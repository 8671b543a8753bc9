import { describe, expect, it } from 'vitest';
import { buildRoundProblem } from '../round-problem.js';
import { bid, node, snapshot } from '../snapshot-fixtures.js';
import { AllocationState } from './allocation-state.js';

describe('AllocationState.fill', () => {
  const problem = buildRoundProblem(
    snapshot({
      nodes: [
        node('cheap-whole', { gpus: 8, reserve: '1.00' }),
        node('cheap-fragment', { gpus: 2, reserve: '1.00' }),
        node('dear', { gpus: 8, reserve: '2.00' }),
      ],
      bids: [bid('b', 4, { H100: '3.00' })],
    }),
  );
  const state = new AllocationState(problem, { assignments: [], preempted: [] });
  const index = (id: string) => problem.nodeIndex.get(id)!;

  it('takes the cheapest reserve first and, among equal reserves, the fragment before the whole node', () => {
    const group = { key: '*', nodes: [index('cheap-whole'), index('cheap-fragment'), index('dear')], capacity: 18 };
    expect(state.fill(group, 4, false)).toEqual({
      cost: 4,
      shares: [
        { node: index('cheap-fragment'), gpus: 2 },
        { node: index('cheap-whole'), gpus: 2 },
      ],
      leftover: 14,
    });
  });

  it('orders a group whose nodes do not come sorted by reserve the same way', () => {
    const group = { key: '*', nodes: [index('dear'), index('cheap-whole'), index('cheap-fragment')], capacity: 18 };
    expect(state.fill(group, 12, false)).toEqual({
      cost: 14,
      shares: [
        { node: index('cheap-fragment'), gpus: 2 },
        { node: index('cheap-whole'), gpus: 8 },
        { node: index('dear'), gpus: 2 },
      ],
      leftover: 6,
    });
    expect(state.fill(group, 19, false)).toBeNull();
  });
});

describe('AllocationState placement among equal nodes', () => {
  const problem = buildRoundProblem(
    snapshot({
      nodes: [
        node('whole-a', { gpus: 8, reserve: '1.00' }),
        node('fragment-a', { gpus: 3, reserve: '1.00' }),
        node('fragment-b', { gpus: 3, reserve: '1.00' }),
        node('whole-b', { gpus: 8, reserve: '1.00' }),
        node('cheapest', { gpus: 8, reserve: '0.50' }),
      ],
      bids: [bid('spread', 5, { H100: '3.00' }), bid('one-node', 3, { H100: '3.00' }, { contiguity: 'node' })],
    }),
  );
  const index = (id: string) => problem.nodeIndex.get(id)!;
  const bidIndex = (id: string) => problem.bids.findIndex((b) => b.bid.id === id);

  it('fills fragments before whole nodes and, among equal fragments, the first node first', () => {
    const state = new AllocationState(problem, { assignments: [], preempted: [] });
    const nodes = ['whole-a', 'fragment-a', 'fragment-b', 'whole-b'].map(index);
    expect(state.fill({ key: '*', nodes, capacity: 22 }, 5, false)?.shares).toEqual([
      { node: index('fragment-a'), gpus: 3 },
      { node: index('fragment-b'), gpus: 2 },
    ]);
  });

  it('puts a one-node gang on the cheapest node, then on the one it fills most, skipping avoided nodes', () => {
    const state = new AllocationState(problem, { assignments: [], preempted: [] });
    const oneNode = bidIndex('one-node');
    expect(state.bestPlacement(oneNode)?.shares).toEqual([{ node: index('cheapest'), gpus: 3 }]);
    const avoid = (n: number) => n === index('cheapest') || n === index('fragment-a');
    expect(state.bestPlacement(oneNode, avoid)?.shares).toEqual([{ node: index('fragment-b'), gpus: 3 }]);
  });
});
