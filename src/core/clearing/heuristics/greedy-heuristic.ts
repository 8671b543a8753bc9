import type { Allocation, Assignment, NodeGpus } from '../allocation.js';
import type { BidOption, Group, RoundProblem } from '../round-problem.js';

/**
 * The fast heuristic: value-density greedy that fills the cheapest nodes first. It is the
 * warm start of the MIP, the fallback when the MIP runs out of time, and the final pass that
 * puts leftover bids into leftover capacity. It never displaces a lease.
 */

/** Free GPUs per node when every flexible lease is kept. */
export function freeWithAllLeases(problem: RoundProblem): Int32Array {
  const free = Int32Array.from(problem.nodes, (n) => n.capacity);
  for (const lease of problem.flexibleLeases) for (const s of lease.shares) free[s.node] -= s.gpus;
  return free;
}

/** Cheapest way to fit `gpus` into one group given free capacity; null when it does not fit. */
function fillGroup(
  problem: RoundProblem,
  group: Group,
  gpus: number,
  free: Int32Array,
  whole: boolean,
): { cost: number; shares: NodeGpus[]; leftover: number } | null {
  if (whole) {
    // One node: the cheapest that fits, best fit among equally cheap ones to keep big holes.
    const node = group.nodes[0];
    if (free[node] < gpus) return null;
    return { cost: problem.nodes[node].reserve * gpus, shares: [{ node, gpus }], leftover: free[node] - gpus };
  }
  let total = 0;
  for (const n of group.nodes) total += free[n] > 0 ? free[n] : 0;
  if (total < gpus) return null;
  const shares: NodeGpus[] = [];
  let remaining = gpus;
  let cost = 0;
  for (const n of group.nodes) {
    if (remaining === 0) break;
    const take = Math.min(free[n], remaining);
    if (take <= 0) continue;
    shares.push({ node: n, gpus: take });
    cost += problem.nodes[n].reserve * take;
    remaining -= take;
  }
  return { cost, shares, leftover: total - gpus };
}

/** The best placement of one option, or null. Groups are scanned cheapest-first. */
export function placeOption(
  problem: RoundProblem,
  option: BidOption,
  gpus: number,
  free: Int32Array,
  contiguity: string,
  allowed?: (group: Group) => boolean,
): { surplus: number; shares: NodeGpus[] } | null {
  let best: { cost: number; shares: NodeGpus[]; leftover: number } | null = null;
  const whole = contiguity === 'node';
  for (const group of option.groups) {
    if (allowed && !allowed(group)) continue;
    const fill = fillGroup(problem, group, gpus, free, whole);
    if (!fill) continue;
    if (
      !best ||
      fill.cost < best.cost - 1e-9 ||
      (Math.abs(fill.cost - best.cost) <= 1e-9 && fill.leftover < best.leftover)
    )
      best = fill;
  }
  return best ? { surplus: option.value * gpus - best.cost, shares: best.shares } : null;
}

/** Bids ordered by their best surplus per GPU, so dense value gets capacity first. */
export function densityOrder(problem: RoundProblem, bids: readonly number[]): number[] {
  const density = new Float64Array(problem.bids.length);
  for (const b of bids) {
    let best = -Infinity;
    for (const o of problem.bids[b].options) best = Math.max(best, o.value - problem.nodes[o.eligible[0]].reserve);
    density[b] = best;
  }
  return [...bids].sort(
    (a, b) => density[b] - density[a] || problem.bids[b].bid.gpus - problem.bids[a].bid.gpus || a - b,
  );
}

/** Places bids in order into `free` (mutated); returns the assignments made. */
export function greedyFill(
  problem: RoundProblem,
  order: readonly number[],
  free: Int32Array,
  allowed?: (group: Group) => boolean,
): Assignment[] {
  const out: Assignment[] = [];
  for (const b of order) {
    const { bid, options } = problem.bids[b];
    let chosen: { option: number; surplus: number; shares: NodeGpus[] } | null = null;
    options.forEach((option, o) => {
      const placed = placeOption(problem, option, bid.gpus, free, bid.contiguity, allowed);
      if (placed && placed.surplus >= 0 && (!chosen || placed.surplus > chosen.surplus + 1e-9))
        chosen = { option: o, ...placed };
    });
    if (!chosen) continue;
    const { option, shares } = chosen as { option: number; shares: NodeGpus[] };
    for (const s of shares) free[s.node] -= s.gpus;
    out.push({ bid: b, option, shares });
  }
  return out;
}

/**
 * The same greedy with displaceable leases competing as items of their own: a lease's density
 * is its surplus plus the penalty its displacement would cost, and it can only stay where it
 * runs. A lease that finds its GPUs taken by denser bids is displaced.
 */
function greedyWithPreemption(problem: RoundProblem, bids: readonly number[]): Allocation {
  const free = Int32Array.from(problem.nodes, (n) => n.capacity);
  const order = densityOrder(problem, bids);
  const leases = [...problem.flexibleLeases].sort(
    (a, b) => b.keepGain / b.gpus - a.keepGain / a.gpus || a.index - b.index,
  );
  const density = (b: number) =>
    Math.max(...problem.bids[b].options.map((o) => o.value - problem.nodes[o.eligible[0]].reserve));
  const assignments: Assignment[] = [];
  const preempted: number[] = [];
  let next = 0;
  const placeBidsDenserThan = (limit: number) => {
    const batch: number[] = [];
    while (next < order.length && density(order[next]) > limit) batch.push(order[next++]);
    assignments.push(...greedyFill(problem, batch, free));
  };
  for (const lease of leases) {
    placeBidsDenserThan(lease.keepGain / lease.gpus);
    if (lease.keepGain >= 0 && lease.shares.every((s) => free[s.node] >= s.gpus))
      for (const s of lease.shares) free[s.node] -= s.gpus;
    else preempted.push(lease.index);
  }
  placeBidsDenserThan(-Infinity);
  return { assignments, preempted };
}

/** The better of the greedy that keeps every lease and the one that may displace some. */
export function greedyAllocate(problem: RoundProblem): Allocation {
  const all = problem.bids.filter((b) => b.options.length > 0).map((b) => b.index);
  const keepAll: Allocation = {
    assignments: greedyFill(problem, densityOrder(problem, all), freeWithAllLeases(problem)),
    preempted: [],
  };
  if (problem.flexibleLeases.length === 0) return keepAll;
  const displacing = greedyWithPreemption(problem, all);
  return allocationScore(problem, displacing) > allocationScore(problem, keepAll) + 1e-9 ? displacing : keepAll;
}

/** Solver-side welfare (binary floats), used only to compare candidate allocations. */
export function allocationScore(problem: RoundProblem, allocation: Allocation): number {
  let score = 0;
  for (const a of allocation.assignments) {
    const option = problem.bids[a.bid].options[a.option];
    for (const s of a.shares) score += (option.value - problem.nodes[s.node].reserve) * s.gpus;
  }
  for (const l of allocation.preempted) score -= problem.flexibleLeases[l].keepGain;
  return score;
}
