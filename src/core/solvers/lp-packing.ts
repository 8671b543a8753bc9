import type { RoundProblem } from '../clearing/round-problem.js';
import type { RelaxedSolution } from '../clearing/upper-bound.js';
import { AllocationState } from './allocation-state.js';
import { densityOrder } from './greedy-heuristic.js';
import type { Allocation, Assignment } from './greedy-heuristic.js';

/**
 * Rounds the LP relaxation into an allocation. The LP picks nearly every winner outright (on
 * the benchmark rounds all but a handful of bids sit at 0 or 1), so the hard part is packing
 * its choice into real nodes: the biggest gangs go first, and each gang prefers the nodes the
 * LP planned for its class, so a small gang that could run anywhere does not take the NVLink
 * rack or the compliant provider a big or constrained gang was counting on. What does not fit
 * then yields to the rest of the bids, densest first.
 */
const STRICTNESS = { node: 0, nvlink: 1, block: 2, none: 3 } as const;
/** Extra cost per GPU, in the packing's ranking only, for a node off the LP's plan. */
const OFF_PLAN = 1;

export function lpPacking(problem: RoundProblem, relaxed: RelaxedSolution): Allocation {
  const state = new AllocationState(problem, { assignments: [], preempted: problem.flexibleLeases.map((l) => l.index) });
  const fits = (l: number) => problem.flexibleLeases[l].shares.every((s) => state.free[s.node] >= s.gpus);
  for (const l of problem.flexibleLeases) if (relaxed.keep[l.index] >= 0.5 && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);

  const { plan } = relaxed;
  const left = new Map(plan.flow);
  const weight = (b: number) => relaxed.bidOptions[b].reduce((t, v) => t + v, 0);
  const live = problem.bids.filter((b) => b.options.length > 0).map((b) => b.index);
  const chosen = live.filter((b) => weight(b) >= 0.5);
  chosen.sort((x, y) => {
    const a = problem.bids[x].bid;
    const b = problem.bids[y].bid;
    return b.gpus - a.gpus || STRICTNESS[a.contiguity] - STRICTNESS[b.contiguity] || x - y;
  });

  const placeOnPlan = (b: number): boolean => {
    const { bid, options } = problem.bids[b];
    const order = options.map((_, o) => o).sort((x, y) => relaxed.bidOptions[b][y] - relaxed.bidOptions[b][x] || x - y);
    for (const o of order) {
      const cls = plan.classOf[b][o];
      const key = (n: number) => plan.atomOf[n] * plan.classCount + cls;
      const price = (n: number) => problem.nodes[n].reserve + ((left.get(key(n)) ?? 0) > 0.5 ? 0 : OFF_PLAN);
      let best: Assignment | null = null;
      let bestCost = Infinity;
      let bestLeftover = Infinity;
      for (const group of options[o].groups) {
        const f = state.fill(group, bid.gpus, bid.contiguity === 'node', undefined, price);
        if (f && (f.cost < bestCost - 1e-9 || (f.cost < bestCost + 1e-9 && f.leftover < bestLeftover))) {
          best = { bid: b, option: o, shares: f.shares };
          bestCost = f.cost;
          bestLeftover = f.leftover;
        }
      }
      if (!best || state.surplus(best) < 0) continue;
      state.place(best);
      for (const s of best.shares) {
        const k = key(s.node);
        const planned = left.get(k);
        if (planned !== undefined) left.set(k, planned - s.gpus);
      }
      return true;
    }
    return false;
  };
  const placed = new Set(chosen.filter(placeOnPlan));

  for (const b of densityOrder(problem, live.filter((b) => !placed.has(b)))) {
    const a = state.bestPlacement(b);
    if (a) state.place(a);
  }
  for (const l of problem.flexibleLeases) if (!state.kept[l.index] && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);
  state.commit();
  return state.toAllocation();
}
