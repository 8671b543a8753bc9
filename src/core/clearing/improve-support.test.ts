import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import { allocationScore, greedyAllocate } from './heuristics/greedy-heuristic.js';
import { improveBySupport, supportBids } from './improve-support.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import { buildRoundProblem } from './round-problem.js';
import type { SolverBackend } from './solver-port.js';
import { upperBound } from './upper-bound.js';

async function lpRound(seed: number) {
  const problem = buildRoundProblem(mediumRound(seed));
  const relaxed = (await upperBound(problem, new HighsBackend(), Date.now() + 60_000, Date.now))!;
  const lpWeight = Float64Array.from(relaxed.bidOptions, (o) => o.reduce((t, v) => t + v, 0));
  return { problem, lpWeight, start: greedyAllocate(problem) };
}

describe('improveBySupport (the LP-support MIP)', () => {
  it('re-packs the bids the LP weighs better than the greedy, placing no bid the LP and the start both leave out', async () => {
    const { problem, lpWeight, start } = await lpRound(5);
    const bids = supportBids(problem, start, lpWeight);
    const inSupport = new Set(bids);
    expect(bids.length).toBeLessThan(problem.bids.length);
    for (const a of start.assignments) expect(inSupport.has(a.bid)).toBe(true);

    const outcome = await improveBySupport(problem, start, bids, new HighsBackend(), {
      deadline: Date.now() + 30_000,
      clock: Date.now,
      seed: 0,
    });
    expect(outcome.improved).toBe(true);
    expect(allocationScore(problem, outcome.allocation)).toBeGreaterThan(allocationScore(problem, start) + 1e-6);
    for (const a of outcome.allocation.assignments) expect(inSupport.has(a.bid)).toBe(true);
    // Never more GPUs on a node than it has.
    const used = new Int32Array(problem.nodes.length);
    for (const a of outcome.allocation.assignments) for (const s of a.shares) used[s.node] += s.gpus;
    for (const l of problem.flexibleLeases)
      if (!outcome.allocation.preempted.includes(l.index)) for (const s of l.shares) used[s.node] += s.gpus;
    problem.nodes.forEach((n) => expect(used[n.index]).toBeLessThanOrEqual(n.capacity));
  });

  it('keeps the start when the solver finds nothing in time', async () => {
    const { problem, lpWeight, start } = await lpRound(5);
    const nothing: SolverBackend = {
      name: 'nothing',
      solve: () => Promise.resolve({ status: 'none', colValue: null, objective: null, bound: null, rowDual: null }),
    };
    const outcome = await improveBySupport(problem, start, supportBids(problem, start, lpWeight), nothing, {
      deadline: Date.now() + 1_000,
      clock: Date.now,
      seed: 0,
    });
    expect(outcome.improved).toBe(false);
    expect(allocationScore(problem, outcome.allocation)).toBeCloseTo(allocationScore(problem, start), 9);
  });
});
