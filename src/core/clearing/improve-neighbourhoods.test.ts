import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import type { Allocation } from './allocation.js';
import { checkResult } from './check-result.js';
import { clearRound } from './clear-round.js';
import { allocationScore, freeWithAllLeases, greedyAllocate } from './heuristics/greedy-heuristic.js';
import { improveLocally } from './heuristics/local-search.js';
import { improveByNeighbourhoods } from './improve-neighbourhoods.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import { buildRoundProblem, type RoundProblem } from './round-problem.js';
import { bid, node, placedNodes, snapshot } from './snapshot-fixtures.js';

/** GPUs per node left after the allocation; negative means over capacity. */
function freeAfter(problem: RoundProblem, allocation: Allocation): Int32Array {
  const free = freeWithAllLeases(problem);
  for (const l of allocation.preempted) for (const s of problem.flexibleLeases[l].shares) free[s.node] += s.gpus;
  for (const a of allocation.assignments) for (const s of a.shares) free[s.node] -= s.gpus;
  return free;
}

describe('improveByNeighbourhoods', () => {
  it('re-packs a node that two small gangs hold so that the gang worth more fits', async () => {
    // One 8-GPU node: two 4-GPU gangs at 2.00 hold it; an 8-GPU gang at 3.00 waits.
    const s = snapshot({
      nodes: [node('a')],
      bids: [
        bid('small1', 4, { H100: '2.00' }, { contiguity: 'node' }),
        bid('small2', 4, { H100: '2.00' }, { contiguity: 'node' }),
        bid('big', 8, { H100: '3.00' }, { contiguity: 'node' }),
      ],
    });
    const problem = buildRoundProblem(s);
    const index = (id: string) => problem.bids.find((b) => b.bid.id === id)!.index;
    const start: Allocation = {
      assignments: [
        { bid: index('small1'), option: 0, shares: [{ node: 0, gpus: 4 }] },
        { bid: index('small2'), option: 0, shares: [{ node: 0, gpus: 4 }] },
      ],
      preempted: [],
    };
    const out = await improveByNeighbourhoods(problem, start, new HighsBackend(), {
      deadline: Date.now() + 10_000,
      clock: Date.now,
      seed: 0,
    });
    expect(out.improved).toBe(true);
    expect(out.allocation.assignments.map((a) => problem.bids[a.bid].bid.id)).toEqual(['big']);
  });

  it('moves a gang spread over two blocks, which a neighbourhood of one block would hold fixed', async () => {
    // x (8 GPUs anywhere) sits half on a1, half on b1; y (a whole node in us-east) waits for a1.
    const s = snapshot({
      nodes: [node('a1', { block: 'a' }), node('b1', { block: 'b', region: 'us-west' })],
      bids: [
        bid('x', 8, { H100: '1.50' }, { contiguity: 'none' }),
        bid('y', 8, { H100: '3.00' }, { contiguity: 'node', regions: ['us-east'] }),
      ],
    });
    const problem = buildRoundProblem(s);
    const index = (id: string) => problem.bids.find((b) => b.bid.id === id)!.index;
    const start: Allocation = {
      assignments: [
        {
          bid: index('x'),
          option: 0,
          shares: [
            { node: 0, gpus: 4 },
            { node: 1, gpus: 4 },
          ],
        },
      ],
      preempted: [],
    };
    const out = await improveByNeighbourhoods(problem, start, new HighsBackend(), {
      deadline: Date.now() + 10_000,
      clock: Date.now,
      seed: 0,
    });
    expect(placedNodes(problem, out.allocation)).toEqual({ x: ['b1'], y: ['a1'] });
  });

  it('never worsens an allocation nor overfills a node, and leaves a searched one no worse', async () => {
    const s = mediumRound(5);
    const problem = buildRoundProblem(s);
    const start = improveLocally(problem, greedyAllocate(problem), { deadline: Infinity, clock: Date.now });
    const out = await improveByNeighbourhoods(problem, start, new HighsBackend(), {
      deadline: Date.now() + 5_000,
      clock: Date.now,
      seed: 0,
      maxSolves: 20,
    });
    expect(out.solves).toBeGreaterThan(0);
    expect(out.solves).toBeLessThanOrEqual(20);
    expect(allocationScore(problem, out.allocation)).toBeGreaterThanOrEqual(allocationScore(problem, start) - 1e-9);
    expect(Math.min(...freeAfter(problem, out.allocation))).toBeGreaterThanOrEqual(0);
    expect(new Set(out.allocation.assignments.map((a) => a.bid)).size).toBe(out.allocation.assignments.length);
  });

  it('starts no solve once its deadline has passed', async () => {
    const problem = buildRoundProblem(mediumRound(6));
    const start = greedyAllocate(problem);
    const out = await improveByNeighbourhoods(problem, start, new HighsBackend(), {
      deadline: Date.now() - 1,
      clock: Date.now,
      seed: 0,
    });
    expect(out).toMatchObject({ solves: 0, improved: false });
    expect(allocationScore(problem, out.allocation)).toBeCloseTo(allocationScore(problem, start), 6);
  });
});

describe('clearRound with MIP neighbourhoods', () => {
  it('gives a valid round, inside its budget, at least as good as its greedy, on and off', async () => {
    const s = mediumRound(7, 48, 300);
    for (const neighbourhoods of [true, false]) {
      const result = await clearRound(s, { backend: new HighsBackend(), timeLimitMs: 1_000, neighbourhoods });
      expect(checkResult(s, result)).toEqual([]);
      expect(result.stats.cutShort).toBe(false);
      expect(result.welfare.toNumber()).toBeGreaterThanOrEqual(Number(result.stats.heuristicWelfare) - 1e-6);
    }
  });

  it('stays out of deterministic mode: the same round twice gives the same result', async () => {
    const s = mediumRound(8);
    const run = () => clearRound(s, { backend: new HighsBackend(), timeLimitMs: 10_000, deterministic: true });
    const [a, b] = [await run(), await run()];
    expect(a.stats.phases.neighbourhoods).toBeUndefined();
    expect(a.placements).toEqual(b.placements);
    expect(a.welfare.toString()).toBe(b.welfare.toString());
  });
});
