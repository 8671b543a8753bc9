import type { BidOption, RoundProblem } from '../round-problem.js';
import type { RelaxedSolution } from '../upper-bound.js';
import { AllocationState } from './allocation-state.js';
import { allocationScore, densityOrder } from './greedy-heuristic.js';
import type { Allocation } from '../allocation.js';
import type { Clock } from '../clock.js';

/**
 * Rounds the LP relaxation into an allocation. The LP picks nearly every winner outright (on
 * the benchmark rounds all but a handful of bids sit at 0 or 1), so the hard part is packing
 * its choice into real nodes: the biggest gangs go first, strictest contiguity first among
 * equals, so a small gang that could run anywhere does not take the NVLink rack a big gang
 * needs. What does not fit yields to the rest of the bids, densest first; the local search then
 * mends what packing gang by gang still gets wrong.
 *
 * Up to four packings are tried and the best kept: chosen gangs by size, and by size with those
 * that have fewest groups to choose from first; each with loose gangs kept off the NVLink racks
 * that chosen NVLink gangs could use, and without. The LP sees capacity by classes, not which
 * block or rack each gang takes, so one order can put a gang that may use two blocks into the
 * only block an equal gang can use (contested 1,000 x 250 seed 1: a 64-GPU gang worth 155.5
 * lost so, 97.0% of the optimum packed against 99.7% in the second order), or a 64-GPU block gang
 * onto the rack a 16-GPU NVLink gang needed (first shape seed 7: 98.3% against 99.5% with racks
 * kept). A chosen gang that still finds no room takes a group whose gangs all fit elsewhere, when
 * that raises the packing's score (first shape seed 1: 9 of the LP's 183 gangs left out before,
 * 3 after). No packing wins on every round, and after the search their order can change; the best
 * packing is the better start on average (docs/benchmarks.md). A fifth way, not among those a
 * round tries itself, is the search lane's start (search-lane.ts): a gang that may split and
 * cannot stay off the racks takes every off-rack GPU of a group first and the fewest rack GPUs
 * it must (first shape seed 1: the 32-GPU NVLink gang of LP weight 1 the others leave out gets
 * its rack). Each costs one greedy pass
 * (5-20 ms at 1,000 bids, 60-300 ms at 10,000, 3 s at 50,000), so past `deadline` no further one
 * starts.
 */
const STRICTNESS = { node: 0, nvlink: 1, block: 2, none: 3 } as const;
/** At most this many gangs leave a group to make room for a chosen gang (packInOrder). */
const MAX_RESEATED = 8;

export interface PackingOptions {
  /** No packing after the first starts unless it could end by then (at the last one's pace). */
  readonly deadline?: number;
  readonly clock?: Clock;
  /** Which of the PACKING_WAYS to try, by index, for benchmarks; default all, in order. */
  readonly ways?: readonly number[];
}

/** The ways lpPackings tries, in order (see there): among equal gangs, and racks kept or not. */
export const PACKING_WAYS = [
  'fewest groups first, racks kept',
  'fewest groups first',
  'by index, racks kept',
  'by index',
  'fewest groups first, racks kept, off-rack GPUs first',
] as const;

export function lpPacking(problem: RoundProblem, relaxed: RelaxedSolution, options: PackingOptions = {}): Allocation {
  return lpPackings(problem, relaxed, options)[0];
}

/** The ways tried unless PackingOptions.ways says otherwise. */
const DEFAULT_WAYS: readonly number[] = [0, 1, 2, 3];
/** The way a search lane starts from (search-lane.ts), where it differs from the best of the others. */
export const OFF_RACK_WAY = 4;

/** The packings tried (those different from each other), best first. */
export function lpPackings(
  problem: RoundProblem,
  relaxed: RelaxedSolution,
  options: PackingOptions = {},
): Allocation[] {
  const clock = options.clock ?? Date.now;
  const live = problem.bids.filter((b) => b.options.length > 0).map((b) => b.index);
  const chosen = live.filter((b) => relaxed.bidOptions[b].reduce((t, v) => t + v, 0) >= 0.5);
  const bySize = (x: number, y: number) => {
    const a = problem.bids[x].bid;
    const b = problem.bids[y].bid;
    return b.gpus - a.gpus || STRICTNESS[a.contiguity] - STRICTNESS[b.contiguity];
  };
  const choices = problem.bids.map((b) => b.options.reduce((t, o) => t + o.groups.length, 0));
  const bySizeOnly = [...chosen].sort((x, y) => bySize(x, y) || x - y);
  const fewestChoices = [...chosen].sort((x, y) => bySize(x, y) || choices[x] - choices[y] || x - y);
  // The way best on the larger rounds first: where the time allows one packing (50,000 bids),
  // it is that one. Each alone (bench/clearing/packing-probe.ts, packing score over the bound):
  // fewest groups with racks kept falls 0.001 points short of the best packing on average over
  // six rounds of 10,000 x 1,000 (the others 0.08-0.39) and 0.19 over 22 of 1,000 x 250, where
  // all four run (the others 0.15-0.34).
  const ways: [readonly number[], boolean, boolean?][] = [
    [fewestChoices, true],
    [fewestChoices, false],
    [bySizeOnly, true],
    [bySizeOnly, false],
    [fewestChoices, true, true],
  ];
  const tries = (options.ways ?? DEFAULT_WAYS).map((i) => ways[i]);
  const packings: { allocation: Allocation; score: number; key: string }[] = [];
  let last = 0;
  for (const [order, keepRacks, offRackFirst] of tries) {
    const started = clock();
    if (packings.length > 0 && options.deadline !== undefined && started + last > options.deadline) break;
    const allocation = packInOrder(problem, relaxed, live, order, keepRacks, offRackFirst ?? false);
    last = clock() - started;
    const key = allocationKey(allocation);
    if (packings.some((p) => p.key === key)) continue;
    packings.push({ allocation, score: allocationScore(problem, allocation), key });
  }
  // Stable: among equal scores the earlier try first.
  return packings.sort((a, b) => b.score - a.score).map((p) => p.allocation);
}

/** Equal keys, equal allocations (as lpPackings builds them: the same order of assignments). */
export function allocationKey(allocation: Allocation): string {
  return allocation.assignments
    .map((a) => `${a.bid}:${a.option}:${a.shares.map((s) => `${s.node}x${s.gpus}`).join(',')}`)
    .join(';')
    .concat(`|${allocation.preempted.join(',')}`);
}

/** Packs the LP's chosen gangs in the order given, then the rest of the bids densest first. */
function packInOrder(
  problem: RoundProblem,
  relaxed: RelaxedSolution,
  live: readonly number[],
  chosen: readonly number[],
  keepRacks: boolean,
  offRackFirst: boolean,
): Allocation {
  const state = new AllocationState(problem, {
    assignments: [],
    preempted: problem.flexibleLeases.map((l) => l.index),
  });
  const fits = (l: number) => problem.flexibleLeases[l].shares.every((s) => state.free[s.node] >= s.gpus);
  for (const l of problem.flexibleLeases)
    if (relaxed.keep[l.index] >= 0.5 && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);

  // Nodes of the NVLink domains that chosen multi-node NVLink gangs could take: other chosen
  // gangs stay off them where they fit elsewhere, as a rack lost to a gang that could run on any
  // node of its block is a rack no NVLink gang gets back.
  const racks = new Uint8Array(problem.nodes.length);
  if (keepRacks)
    for (const b of chosen) {
      const { bid } = problem.bids[b];
      if (bid.contiguity !== 'nvlink' || bid.gpus <= 8) continue;
      for (const o of problem.bids[b].options) for (const g of o.groups) for (const n of g.nodes) racks[n] = 1;
    }
  const onRack = (n: number) => racks[n] === 1;
  // Each chosen gang takes the LP's favourite option first, on its cheapest fitting group.
  const lpOrder = (b: number) =>
    problem.bids[b].options
      .map((_, o) => o)
      .sort((x, y) => relaxed.bidOptions[b][y] - relaxed.bidOptions[b][x] || x - y);
  const placeChosen = (b: number): boolean => {
    const order = lpOrder(b);
    const avoid = problem.bids[b].bid.contiguity === 'nvlink' ? undefined : onRack;
    for (const o of order) {
      const within = (option: BidOption) => option === problem.bids[b].options[o];
      if (avoid && state.placeBest(b, avoid, within)) return true;
      if (avoid && offRackFirst && problem.bids[b].bid.contiguity !== 'node' && placeOffRackFirst(b, o)) return true;
      if (state.placeBest(b, undefined, within)) return true;
    }
    return false;
  };
  // A gang that may split and finds no room wholly off the racks takes every off-rack GPU of a
  // group and the fewest rack GPUs it must, so what it leaves of a rack can still hold an NVLink gang.
  const placeOffRackFirst = (b: number, o: number): boolean => {
    const { bid, options } = problem.bids[b];
    const option = options[o];
    let best: { shares: { node: number; gpus: number }[]; onRack: number; surplus: number } | null = null;
    for (const group of option.groups) {
      let offFree = 0;
      for (const n of group.nodes) if (!onRack(n)) offFree += state.free[n];
      // Fits off the racks: placeBest with `avoid` would have found it. Otherwise every off-rack GPU, then the rest.
      if (offFree >= bid.gpus) continue;
      const off = offFree > 0 ? state.fill(group, offFree, false, onRack) : { cost: 0, shares: [] };
      const need = bid.gpus - offFree;
      const rest = off && state.fill(group, need, false, (n) => !onRack(n));
      if (!off || !rest) continue;
      const surplus = option.value * bid.gpus - off.cost - rest.cost;
      if (surplus < -1e-9) continue;
      if (!best || need < best.onRack || (need === best.onRack && surplus > best.surplus + 1e-9))
        best = { shares: [...off.shares, ...rest.shares], onRack: need, surplus };
    }
    if (best) state.place({ bid: b, option: o, shares: best.shares });
    return best !== null;
  };
  const placed = new Set(chosen.filter(placeChosen));
  // A chosen gang that found no room may take a group whose gangs all fit elsewhere: the LP
  // sees capacity by classes, so a gang packed first by size can take the one block or node a
  // smaller chosen gang may use while its own other groups stand free. Moving such gangs one
  // level down gained 0.2-0.7 in packing score on two of three rounds and was not kept.
  const bySizeDesc = (x: number, y: number) => problem.bids[y].bid.gpus - problem.bids[x].bid.gpus || x - y;
  const reseat = (b: number): boolean => {
    const { options } = problem.bids[b];
    for (const o of lpOrder(b))
      for (const group of options[o].groups) {
        const blockers = new Set<number>();
        for (const n of group.nodes) for (const other of state.bidsOn[n]) blockers.add(other);
        if (blockers.size === 0 || blockers.size > MAX_RESEATED) continue;
        const before = state.score;
        const mark = state.mark();
        for (const other of blockers) state.unplace(other);
        if (
          state.placeBest(b, undefined, (option, g) => option === options[o] && g === group) &&
          [...blockers].sort(bySizeDesc).every(placeChosen) &&
          state.score > before + 1e-9
        )
          return true;
        state.rollback(mark);
      }
    return false;
  };
  for (let progress = true; progress;) {
    progress = false;
    for (const b of chosen)
      if (!placed.has(b) && reseat(b)) {
        placed.add(b);
        progress = true;
      }
  }

  for (const b of densityOrder(
    problem,
    live.filter((b) => !placed.has(b)),
  ))
    state.placeBest(b);
  for (const l of problem.flexibleLeases)
    if (!state.kept[l.index] && l.keepGain >= 0 && fits(l.index)) state.keepLease(l.index);
  state.commit();
  return state.toAllocation();
}
