import { describe, expect, it } from 'vitest';
import { AllocationState } from './heuristics/allocation-state.js';
import { allocationScore } from './heuristics/greedy-heuristic.js';
import type { Allocation } from './allocation.js';
import { HighsBackend } from '../solvers/highs-backend.js';
import { decompose } from './decompose.js';
import { applyPart, improveByParts } from './improve-parts.js';
import { buildRoundProblem } from './round-problem.js';
import { bid, node, snapshot } from './snapshot-fixtures.js';

describe('improveByParts', () => {
  it('keeps a gang that spans two parts, and the parts improve around it', async () => {
    const nodes = Array.from({ length: 100 }, (_, i) => node(`n${i}`, { block: `b${i}` }));
    const s = snapshot({
      nodes,
      bids: [
        bid('wide', 24, { H100: '4.00' }, { contiguity: 'none' }),
        ...Array.from({ length: 20 }, (_, i) =>
          bid(`small${i}`, 8, { H100: (2 + i / 10).toFixed(2) }, { contiguity: 'node' }),
        ),
      ],
    });
    const problem = buildRoundProblem(s);
    const wide = problem.bids.find((b) => b.bid.id === 'wide')!.index;
    const spread = [0, 33, 66];
    const start: Allocation = {
      assignments: [{ bid: wide, option: 0, shares: spread.map((n) => ({ node: n, gpus: 8 })) }],
      preempted: [],
    };

    const parts = decompose(
      problem,
      0,
      Int32Array.from(problem.bids, (b) => (b.index === wide ? 0 : -1)),
    );
    const partOf = (n: number) => parts.findIndex((p) => p.nodeInScope[n]);
    expect(parts.length).toBeGreaterThan(1);
    expect(new Set(start.assignments[0].shares.map((x) => partOf(x.node))).size).toBeGreaterThan(1);

    const outcome = await improveByParts(problem, start, new HighsBackend(), Date.now() + 20_000, 0, Date.now);
    const placed = new Map(outcome.allocation.assignments.map((a) => [problem.bids[a.bid].bid.id, a]));
    expect(placed.get('wide')?.shares).toEqual(start.assignments[0].shares);
    expect(placed.size).toBe(21);
    expect(outcome.improved).toBe(true);
    expect(outcome.proven).toBe(false);
    expect(allocationScore(problem, outcome.allocation)).toBeGreaterThan(allocationScore(problem, start));
  });
});

describe('improveByParts on a backend that solves several parts at once', () => {
  it('keeps parts in flight together and reaches the allocation a single lane reaches', async () => {
    const nodes = Array.from({ length: 200 }, (_, i) => node(`n${i}`, { block: `b${i % 20}` }));
    const s = snapshot({
      nodes,
      bids: Array.from({ length: 700 }, (_, i) =>
        bid(
          `b${i}`,
          1 + (i % 8),
          { H100: (2 + (i % 17) / 10).toFixed(2) },
          { contiguity: i % 3 === 0 ? 'node' : 'none' },
        ),
      ),
    });
    const problem = buildRoundProblem(s);
    const start: Allocation = { assignments: [], preempted: [] };
    const highs = new HighsBackend();
    let inFlight = 0;
    let most = 0;
    const twoLanes = {
      name: 'two-lanes',
      concurrency: 2,
      async solve(request: Parameters<HighsBackend['solve']>[0]) {
        inFlight++;
        most = Math.max(most, inFlight);
        // Yield first so that the other lane's request is issued before this one solves.
        await new Promise((resolve) => setTimeout(resolve, 5));
        try {
          return await highs.solve(request);
        } finally {
          inFlight--;
        }
      },
    };
    expect(decompose(problem, 0).length).toBeGreaterThan(1);
    const one = await improveByParts(problem, start, highs, Date.now() + 60_000, 0, Date.now);
    const two = await improveByParts(problem, start, twoLanes, Date.now() + 60_000, 0, Date.now);
    expect(most).toBe(2);
    expect(two.parts).toBe(one.parts);
    expect(allocationScore(problem, two.allocation)).toBeCloseTo(allocationScore(problem, one.allocation), 6);
    expect(allocationScore(problem, two.allocation)).toBeGreaterThan(0);
  }, 120_000);
});

describe('applyPart', () => {
  it('voids an answer whose gangs no longer fit', () => {
    const nodes = Array.from({ length: 100 }, (_, i) => node(`n${i}`, { block: `b${i}` }));
    const s = snapshot({
      nodes,
      bids: [
        bid('wide', 16, { H100: '4.00' }, { contiguity: 'none' }),
        ...Array.from({ length: 20 }, (_, i) => bid(`small${i}`, 8, { H100: '3.00' }, { contiguity: 'node' })),
      ],
    });
    const problem = buildRoundProblem(s);
    const parts = decompose(problem, 0);
    const [first, second] = [parts[0], parts[1]];
    const inFirst = problem.nodes.find((n) => first.nodeInScope[n.index])!.index;
    const inSecond = problem.nodes.find((n) => second.nodeInScope[n.index])!.index;
    const wide = problem.bids.find((b) => b.bid.id === 'wide')!.index;
    const small = first.bids.find((b) => b !== wide)!;
    // The search left a gang across both parts on a node the first part's answer wants whole.
    const current: Allocation = {
      assignments: [
        {
          bid: wide,
          option: 0,
          shares: [
            { node: inFirst, gpus: 8 },
            { node: inSecond, gpus: 8 },
          ],
        },
      ],
      preempted: [],
    };
    const answer: Allocation = {
      assignments: [{ bid: small, option: 0, shares: [{ node: inFirst, gpus: 8 }] }],
      preempted: [],
    };
    const state = new AllocationState(problem, current);
    expect(applyPart(problem, state, first, answer)).toBe(false);
    expect(state.toAllocation().assignments).toEqual(current.assignments);
    // On a free node the same answer goes in.
    const free = new AllocationState(problem, { assignments: [], preempted: [] });
    expect(applyPart(problem, free, first, answer)).toBe(true);
    expect(free.toAllocation().assignments).toEqual(answer.assignments);
  });
});
