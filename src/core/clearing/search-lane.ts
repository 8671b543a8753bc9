import type { RoundSnapshot } from '../market/types.js';
import type { Allocation } from './allocation.js';
import type { Clock } from './clock.js';
import { improveLocally } from './heuristics/local-search.js';
import { allocationKey, lpPackings, OFF_RACK_WAY } from './heuristics/lp-packing.js';
import { repackRacks } from './heuristics/repack-racks.js';
import type { RoundProblem } from './round-problem.js';
import type { RelaxedSolution } from './upper-bound.js';

/**
 * A second search on a thread of its own (ClearOptions.lane). The local search from the best LP
 * packing ends in one basin; from another packing it often ends in a better one (1,000 x 250 at
 * 400 ms, 32 rounds: the best packing searched 99.666% of the bound on average, the better of it
 * and the off-rack packing searched 99.689%, instance 1 99.676% against 99.875%), but searching
 * both one after the other halves each one's time. Where the round's first search runs on one
 * core and another core stands idle (budgets below the MIP phase's, or before it starts), the
 * lane searches from its own start over the same time, and the clearing thread goes on from the
 * better of the two.
 *
 * The lane builds its own RoundProblem from the snapshot (deterministic: the same indices as the
 * clearing thread's), from `open` on, while the clearing thread builds its candidates and solves
 * the LP bound; `search` sends it the LP's solution.
 */
export interface SearchLane {
  open(snapshot: RoundSnapshot): LaneRound;
}

export interface LaneRound {
  /**
   * The lane's searched allocation, within `ms` of wall-clock time (the lane's clock is its own
   * thread's Date.now), or null when it has none by then.
   */
  search(relaxed: RelaxedSolution, ms: number): Promise<LaneAnswer | null>;
  /** Asks the lane to stop searching now and answer with what it has (the search is anytime). */
  stop(): void;
  /** The round is over on this side: the lane may drop its problem. */
  close(): void;
}

export interface LaneAnswer {
  readonly allocation: Allocation;
  /** The search ended before its deadline: no move improves it. */
  readonly converged: boolean;
}

/**
 * The lane's start: the packing that takes every off-rack GPU first (lp-packing.ts, OFF_RACK_WAY)
 * where it differs from the best of the clearing thread's packings, else the second best of
 * those; null when there is no other start.
 */
export function laneStart(problem: RoundProblem, relaxed: RelaxedSolution): Allocation | null {
  const [best, second] = lpPackings(problem, relaxed);
  const [offRack] = lpPackings(problem, relaxed, { ways: [OFF_RACK_WAY] });
  if (allocationKey(offRack) !== allocationKey(best)) return offRack;
  return second ?? null;
}

/** What a lane thread runs: the clearing thread's first search (search, racks, search) from laneStart. */
export function searchLane(
  problem: RoundProblem,
  relaxed: RelaxedSolution,
  options: { deadline: number; clock: Clock },
): LaneAnswer | null {
  const start = laneStart(problem, relaxed);
  if (!start) return null;
  let allocation = improveLocally(problem, start, options);
  const repacked = repackRacks(problem, allocation, options);
  if (repacked.improved) allocation = improveLocally(problem, repacked.allocation, options);
  return { allocation, converged: options.clock() < options.deadline };
}

/**
 * Whether an allocation from elsewhere (a lane thread) is one of this problem's: every bid once,
 * an option it has, its GPUs in one of the option's groups, no node over its capacity once the
 * leases kept hold theirs.
 */
export function fitsProblem(problem: RoundProblem, allocation: Allocation): boolean {
  const free = Int32Array.from(problem.nodes, (n) => n.capacity);
  const dropped = new Uint8Array(problem.flexibleLeases.length);
  for (const l of allocation.preempted) {
    if (!Number.isInteger(l) || l < 0 || l >= dropped.length || dropped[l]) return false;
    dropped[l] = 1;
  }
  for (const l of problem.flexibleLeases) if (!dropped[l.index]) for (const s of l.shares) free[s.node] -= s.gpus;
  const seen = new Uint8Array(problem.bids.length);
  for (const a of allocation.assignments) {
    const bid = problem.bids[a.bid];
    if (!bid || seen[a.bid]) return false;
    seen[a.bid] = 1;
    const option = bid.options[a.option];
    if (!option) return false;
    let gpus = 0;
    for (const s of a.shares) {
      if (!Number.isInteger(s.gpus) || s.gpus <= 0 || free[s.node] === undefined) return false;
      free[s.node] -= s.gpus;
      gpus += s.gpus;
    }
    const inGroup = option.groups.some((g) => a.shares.every((s) => g.nodes.includes(s.node)));
    if (gpus !== bid.bid.gpus || !inGroup) return false;
    if (bid.bid.contiguity === 'node' && a.shares.length !== 1) return false;
  }
  return free.every((f) => f >= 0);
}
