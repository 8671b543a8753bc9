import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkResult, recomputeWelfare } from '../check-result.js';
import { mediumRound, roundArbitrary } from '../random-rounds.test-helpers.js';
import { buildRoundProblem } from '../round-problem.js';
import type { RoundProblem } from '../round-problem.js';
import { bid, lease, node, snapshot } from '../snapshot-fixtures.js';
import type { RoundSnapshot } from '../../market/types.js';
import { AllocationState } from './allocation-state.js';
import { allocationScore, greedyAllocate } from './greedy-heuristic.js';
import type { Allocation, Assignment } from '../allocation.js';
import { improveLocally } from './local-search.js';

const far = () => Date.now() + 60_000;

function at(problem: RoundProblem, bidId: string, shares: Record<string, number>, option = 0): Assignment {
  const b = problem.bids.find((x) => x.bid.id === bidId)!;
  return {
    bid: b.index,
    option,
    shares: Object.entries(shares).map(([id, gpus]) => ({ node: problem.nodeIndex.get(id)!, gpus })),
  };
}

/** The allocation as a round result, so that the round files' validity rules can judge it. */
function validityErrors(s: RoundSnapshot, problem: RoundProblem, allocation: Allocation): string[] {
  const displaced = new Set(allocation.preempted.map((l) => problem.flexibleLeases[l].lease.id));
  const placements = allocation.assignments.map((a) => ({
    bidId: problem.bids[a.bid].bid.id,
    gpuModel: problem.bids[a.bid].options[a.option].gpuModel,
    nodes: a.shares.map((x) => ({ node: problem.nodes[x.node].node.id, gpus: x.gpus })),
  }));
  const decided = {
    placements,
    kept: s.leases.filter((l) => !displaced.has(l.id)).map((l) => l.id),
    preempted: [...displaced],
  };
  return checkResult(s, { ...decided, welfare: recomputeWelfare(s, decided) }, { prices: false });
}

const placedIds = (problem: RoundProblem, a: Allocation) => a.assignments.map((x) => problem.bids[x.bid].bid.id).sort();

describe('improveLocally: ejection chains', () => {
  it('moves small gangs off an NVLink rack so that a 16-GPU gang that needs the rack can run', () => {
    const s = snapshot({
      nodes: [
        node('a', { nvlinkDomain: 'rack', block: 'b' }),
        node('b', { nvlinkDomain: 'rack', block: 'b' }),
        node('c', { block: 'b', reserve: '1.10' }),
      ],
      bids: [
        bid('x', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('y', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('z', 16, { H100: '2.50' }, { contiguity: 'nvlink' }),
      ],
    });
    const problem = buildRoundProblem(s);
    const start: Allocation = { assignments: [at(problem, 'x', { a: 4 }), at(problem, 'y', { b: 4 })], preempted: [] };
    const improved = improveLocally(problem, start, { deadline: far(), clock: Date.now });
    expect(placedIds(problem, improved)).toEqual(['x', 'y', 'z']);
    expect(validityErrors(s, problem, improved)).toEqual([]);
    // x and y on c at 1.10, z on the rack at 1.00: (3 - 1.1) x 8 + (2.5 - 1) x 16.
    expect(allocationScore(problem, improved)).toBeCloseTo(15.2 + 24, 6);
  });

  it('keeps a displaced lease again when the gang on its node can move to a free node', () => {
    const s = snapshot({
      nodes: [node('a'), node('b', { reserve: '1.20' })],
      leases: [lease('l', { a: 8 }, '3.00')],
      bids: [bid('x', 8, { H100: '1.50' })],
    });
    const problem = buildRoundProblem(s);
    const start: Allocation = { assignments: [at(problem, 'x', { a: 8 })], preempted: [0] };
    const improved = improveLocally(problem, start, { deadline: far(), clock: Date.now });
    expect(improved.preempted).toEqual([]);
    expect(improved.assignments.map((a) => a.shares.map((x) => problem.nodes[x.node].node.id))).toEqual([['b']]);
    expect(validityErrors(s, problem, improved)).toEqual([]);
  });

  it('displaces nothing and drops nothing when that would lower welfare', () => {
    const s = snapshot({
      nodes: [node('a', { nvlinkDomain: 'rack', block: 'b' }), node('b', { nvlinkDomain: 'rack', block: 'b' })],
      bids: [
        bid('x', 8, { H100: '3.00' }, { contiguity: 'node' }),
        bid('y', 8, { H100: '3.00' }, { contiguity: 'node' }),
        bid('z', 16, { H100: '1.90' }, { contiguity: 'nvlink' }),
      ],
    });
    const problem = buildRoundProblem(s);
    const start: Allocation = { assignments: [at(problem, 'x', { a: 8 }), at(problem, 'y', { b: 8 })], preempted: [] };
    expect(placedIds(problem, improveLocally(problem, start, { deadline: far(), clock: Date.now }))).toEqual([
      'x',
      'y',
    ]);
  });

  it('with depth 2 relocates a gang by evicting others in turn, where depth 1 would have to drop it and so does nothing', () => {
    // z may only use rack-1 (it needs hipaa) and is worth less than y, which sits there and fits on
    // rack-2 only once w and v move to e: a chain of two evictions.
    const s = snapshot({
      nodes: [
        node('a', { nvlinkDomain: 'rack-1', block: 'b', compliance: ['hipaa'] }),
        node('b', { nvlinkDomain: 'rack-1', block: 'b', compliance: ['hipaa'] }),
        node('c', { nvlinkDomain: 'rack-2', block: 'b' }),
        node('d', { nvlinkDomain: 'rack-2', block: 'b' }),
        node('e', { block: 'b', reserve: '1.10' }),
      ],
      bids: [
        bid('y', 16, { H100: '3.00' }, { contiguity: 'nvlink' }),
        bid('w', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('v', 4, { H100: '3.00' }, { contiguity: 'node' }),
        bid('z', 16, { H100: '2.50' }, { contiguity: 'nvlink', compliance: ['hipaa'] }),
      ],
    });
    const problem = buildRoundProblem(s);
    const start: Allocation = {
      assignments: [at(problem, 'y', { a: 8, b: 8 }), at(problem, 'w', { c: 4 }), at(problem, 'v', { d: 4 })],
      preempted: [],
    };
    const shallow = improveLocally(problem, start, { deadline: far(), clock: Date.now, depth: 1 });
    const deep = improveLocally(problem, start, { deadline: far(), clock: Date.now, depth: 2 });
    expect(placedIds(problem, shallow)).toEqual(['v', 'w', 'y']);
    expect(placedIds(problem, deep)).toEqual(['v', 'w', 'y', 'z']);
    expect(validityErrors(s, problem, deep)).toEqual([]);
    expect(allocationScore(problem, deep)).toBeGreaterThan(allocationScore(problem, shallow));
  });

  it('on random rounds never lowers welfare, keeps every validity rule and stops at a local optimum', () => {
    fc.assert(
      fc.property(roundArbitrary, (s) => {
        const problem = buildRoundProblem(s);
        const start = greedyAllocate(problem);
        const improved = improveLocally(problem, start, { deadline: far(), clock: Date.now, depth: 2 });
        expect(validityErrors(s, problem, improved)).toEqual([]);
        expect(allocationScore(problem, improved)).toBeGreaterThanOrEqual(allocationScore(problem, start) - 1e-9);
        const again = improveLocally(problem, improved, { deadline: far(), clock: Date.now, depth: 2 });
        expect(allocationScore(problem, again)).toBeCloseTo(allocationScore(problem, improved), 9);
      }),
      { numRuns: 200, seed: 4242 },
    );
  });

  it('is deterministic: the same start gives the same allocation', () => {
    const s = mediumRound(3);
    const problem = buildRoundProblem(s);
    const start = greedyAllocate(problem);
    const one = improveLocally(problem, start, { deadline: far(), clock: Date.now });
    const two = improveLocally(problem, start, { deadline: far(), clock: Date.now });
    expect(JSON.stringify(two)).toBe(JSON.stringify(one));
    expect(allocationScore(problem, one)).toBeGreaterThan(allocationScore(problem, start));
    expect(validityErrors(s, problem, one)).toEqual([]);
  });
});

describe('AllocationState', () => {
  it('rolls back any sequence of changes to exactly where it was', () => {
    const s = mediumRound(5);
    const problem = buildRoundProblem(s);
    const state = new AllocationState(problem, greedyAllocate(problem));
    const before = {
      free: [...state.free],
      score: state.score,
      placed: JSON.stringify(state.placed),
      kept: [...state.kept],
    };
    const mark = state.mark();
    state.placed.forEach((a, b) => (a && b % 2 === 0 ? state.unplace(b) : undefined));
    state.kept.forEach((k, l) => (k ? state.dropLease(l) : state.keepLease(l)));
    for (const b of problem.bids)
      if (!state.placed[b.index]) {
        const a = state.bestPlacement(b.index);
        if (a) state.place(a);
      }
    state.rollback(mark);
    expect([...state.free]).toEqual(before.free);
    expect(state.score).toBeCloseTo(before.score, 9);
    expect(JSON.stringify(state.placed)).toBe(before.placed);
    expect([...state.kept]).toEqual(before.kept);
  });
});
