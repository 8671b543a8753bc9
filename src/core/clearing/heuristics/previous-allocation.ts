import type { Placement } from '../../market/types.js';
import type { Allocation } from '../allocation.js';
import type { RoundProblem } from '../round-problem.js';
import { AllocationState } from './allocation-state.js';
import { densityOrder } from './greedy-heuristic.js';

/**
 * A warm start from the previous round (ClearOptions.previous): the service clears a similar
 * round every minute, so last round's placements of bids still open are mostly still right.
 * Each is kept when it is still valid here (the bid is live, the offer's model is one of its
 * options, its nodes are eligible and lie in one contiguity group, and they have the GPUs);
 * leases it displaced are displaced again only where a kept placement needs their GPUs; the
 * rest is filled as below. The result is a complete allocation the round uses
 * as one more candidate incumbent, taken only when it beats the others.
 */
export interface PreviousRound {
  readonly placements: readonly Placement[];
  /** Lease ids the previous round displaced. */
  readonly preempted?: readonly string[];
}

/**
 * `lpWeight` (per bid, its weight in the LP relaxation), when the round has one: the bids not
 * placed from the previous round go in as the LP packing puts them, those the LP chose first,
 * biggest gangs first, then the rest densest first. Without it, densest first.
 */
export function previousAllocation(
  problem: RoundProblem,
  previous: PreviousRound,
  lpWeight?: Float64Array,
): Allocation {
  const bidIndex = new Map(problem.bids.map((b) => [b.bid.id, b.index]));
  const leaseIndex = new Map(problem.flexibleLeases.map((l) => [l.lease.id, l.index]));
  const state = new AllocationState(problem, { assignments: [], preempted: [] });
  // Leases the previous round displaced free their GPUs for now; those no placement needs come back below.
  const dropped: number[] = [];
  for (const id of previous.preempted ?? []) {
    const l = leaseIndex.get(id);
    if (l !== undefined && state.kept[l]) {
      state.dropLease(l);
      dropped.push(l);
    }
  }
  for (const p of previous.placements) {
    const b = bidIndex.get(p.bidId);
    if (b === undefined || state.placed[b]) continue;
    const { bid, options } = problem.bids[b];
    const option = options.findIndex((o) => o.gpuModel === p.gpuModel);
    if (option < 0) continue;
    const shares = p.nodes.map((s) => ({ node: problem.nodeIndex.get(s.node) ?? -1, gpus: s.gpus }));
    if (shares.some((s) => s.node < 0 || s.gpus <= 0 || state.free[s.node] < s.gpus)) continue;
    if (shares.reduce((t, s) => t + s.gpus, 0) !== bid.gpus) continue;
    if (bid.contiguity === 'node' && shares.length !== 1) continue;
    const inOneGroup = options[option].groups.some((g) => shares.every((s) => g.nodes.includes(s.node)));
    if (!inOneGroup) continue;
    state.place({ bid: b, option, shares });
  }
  for (const l of dropped) {
    if (problem.flexibleLeases[l].shares.every((s) => state.free[s.node] >= s.gpus)) state.keepLease(l);
  }
  const rest = problem.bids.filter((b) => b.options.length > 0 && !state.placed[b.index]).map((b) => b.index);
  const chosen = lpWeight ? rest.filter((b) => lpWeight[b] >= 0.5) : [];
  chosen.sort((x, y) => problem.bids[y].bid.gpus - problem.bids[x].bid.gpus || x - y);
  const others = densityOrder(
    problem,
    rest.filter((b) => !lpWeight || lpWeight[b] < 0.5),
  );
  for (const b of [...chosen, ...others]) state.placeBest(b);
  state.commit();
  return state.toAllocation();
}
