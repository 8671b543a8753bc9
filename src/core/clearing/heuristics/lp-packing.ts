import type { RoundProblem } from '../round-problem.js';
import type { RelaxedSolution } from '../upper-bound.js';
import { AllocationState } from './allocation-state.js';
import { densityOrder } from './greedy-heuristic.js';
import type { Allocation } from '../allocation.js';

/**
 * Rounds the LP relaxation into an allocation. The LP picks nearly every winner outright (on
 * the benchmark rounds all but a handful of bids sit at 0 or 1), so the hard part is packing
 * its choice into real nodes: the biggest gangs go first, strictest contiguity first among
 * equals, so a small gang that could run anywhere does not take the NVLink rack a big gang
 * needs. What does not fit yields to the rest of the bids, densest first; the local search then
 * mends what packing gang by gang still gets wrong.
 */
const STRICTNESS = { node: 0, nvlink: 1, block: 2, none: 3 } as const;

export function lpPacking(problem: RoundProblem, relaxed: RelaxedSolution): Allocation {
  const state = new AllocationState(problem, {
    assignments: [],
    preempted: problem.flexibleLeases.map((l) => l.index),
  });
  const fits = (l: number) => problem.flexibleLeases[l].shares.every((s) => state.free[s.node] >= s.gpus);
  for (const l of problem.flexibleLeases)
    if (relaxed.keep[l.index] >= 0.5 && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);

  const weight = (b: number) => relaxed.bidOptions[b].reduce((t, v) => t + v, 0);
  const live = problem.bids.filter((b) => b.options.length > 0).map((b) => b.index);
  const chosen = live.filter((b) => weight(b) >= 0.5);
  chosen.sort((x, y) => {
    const a = problem.bids[x].bid;
    const b = problem.bids[y].bid;
    return b.gpus - a.gpus || STRICTNESS[a.contiguity] - STRICTNESS[b.contiguity] || x - y;
  });

  // Each chosen gang takes the LP's favourite option first, on its cheapest fitting group.
  const placeChosen = (b: number): boolean => {
    const order = problem.bids[b].options
      .map((_, o) => o)
      .sort((x, y) => relaxed.bidOptions[b][y] - relaxed.bidOptions[b][x] || x - y);
    for (const o of order) {
      const a = state.bestPlacement(b, undefined, (option) => option === problem.bids[b].options[o]);
      if (!a) continue;
      state.place(a);
      return true;
    }
    return false;
  };
  const placed = new Set(chosen.filter(placeChosen));

  for (const b of densityOrder(
    problem,
    live.filter((b) => !placed.has(b)),
  )) {
    const a = state.bestPlacement(b);
    if (a) state.place(a);
  }
  for (const l of problem.flexibleLeases)
    if (!state.kept[l.index] && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);
  state.commit();
  return state.toAllocation();
}
