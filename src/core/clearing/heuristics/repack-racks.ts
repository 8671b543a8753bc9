import type { Allocation } from '../allocation.js';
import type { Clock } from '../clock.js';
import type { RoundProblem } from '../round-problem.js';
import { AllocationState } from './allocation-state.js';

/** Gangs of up to this many GPUs fit on one node: their NVLink domain is no puzzle. */
const MIN_GANG = 8;

interface Rack {
  readonly nodes: Set<number>;
  /** Multi-node NVLink gangs with a group on the rack, and their best value per GPU there. */
  readonly value: Map<number, number>;
}

/**
 * Re-packs one NVLink domain at a time. The local search moves one gang at a time and evicts
 * cheapest first, so it does not trade a 64-GPU gang on a rack for the four 16-GPU gangs worth
 * more there (first shape seed 7: the optimum does, for 52.1 against 50.6). Here the gangs wholly
 * inside a rack leave; those that need no rack go elsewhere where they fit; then the rack's GPUs
 * go to the multi-node NVLink gangs that could use it (those evicted and the losers) by a 0/1
 * knapsack on GPUs (an NVLink gang may split over the rack's nodes any way, so GPUs are all that
 * count), the biggest placed first, then by value per GPU whatever still fits; evicted gangs
 * still out are placed anywhere they can. The result is kept only when welfare rises.
 */
export function repackRacks(
  problem: RoundProblem,
  allocation: Allocation,
  options: { deadline: number; clock: Clock },
): { allocation: Allocation; improved: boolean } {
  const racks = new Map<string, Rack>();
  for (const b of problem.bids) {
    if (b.bid.contiguity !== 'nvlink' || b.bid.gpus <= MIN_GANG) continue;
    for (const o of b.options)
      for (const g of o.groups) {
        let rack = racks.get(g.key);
        if (!rack) racks.set(g.key, (rack = { nodes: new Set(), value: new Map() }));
        for (const n of g.nodes) rack.nodes.add(n);
        rack.value.set(b.index, Math.max(rack.value.get(b.index) ?? 0, o.value));
      }
  }
  const state = new AllocationState(problem, allocation);
  const start = state.score;
  for (const key of [...racks.keys()].sort()) {
    if (options.clock() >= options.deadline) break;
    const rack = racks.get(key)!;
    const inside = new Set<number>();
    for (const n of rack.nodes)
      for (const b of state.bidsOn[n]) if (state.placed[b]!.shares.every((s) => rack.nodes.has(s.node))) inside.add(b);
    const losers = [...rack.value.keys()].filter((b) => state.placed[b] === null);
    if (inside.size > 0 && losers.length > 0) repackOne(problem, state, rack, inside, losers);
  }
  return { allocation: state.toAllocation(), improved: state.score > start + 1e-9 };
}

function repackOne(
  problem: RoundProblem,
  state: AllocationState,
  rack: Rack,
  inside: ReadonlySet<number>,
  losers: readonly number[],
): void {
  const before = state.score;
  const mark = state.mark();
  const within = (n: number) => rack.nodes.has(n);
  const outside = (n: number) => !rack.nodes.has(n);
  for (const b of inside) state.unplace(b);
  // Gangs that need no rack leave it where they fit elsewhere, and keep their place otherwise.
  for (const b of inside) if (!rack.value.has(b) && !state.placeBest(b, within)) state.placeBest(b, outside);
  // The knapsack prices every gang at the rack's dearest reserve, an estimate: the welfare
  // check below decides.
  let free = 0;
  let reserve = 0;
  for (const n of rack.nodes) {
    free += state.free[n];
    reserve = Math.max(reserve, problem.nodes[n].reserve);
  }
  const gangs = [...inside].filter((b) => rack.value.has(b)).concat(losers);
  const gpus = (b: number) => problem.bids[b].bid.gpus;
  const gain = (b: number) => gpus(b) * (rack.value.get(b)! - reserve);
  const chosen = new Set(knapsack(gangs.map(gpus), gangs.map(gain), free).map((i) => gangs[i]));
  const byValue = (x: number, y: number) => rack.value.get(y)! - rack.value.get(x)! || gpus(y) - gpus(x) || x - y;
  for (const b of [...chosen].sort((x, y) => gpus(y) - gpus(x) || byValue(x, y))) state.placeBest(b, outside);
  for (const b of gangs.filter((x) => !chosen.has(x)).sort(byValue)) state.placeBest(b, outside);
  for (const b of inside) if (state.placed[b] === null) state.placeBest(b);
  if (state.score > before + 1e-9) state.commit();
  else state.rollback(mark);
}

/** The items (by index) of most total gain within the capacity: 0/1 knapsack by dynamic programming. */
function knapsack(weights: readonly number[], gains: readonly number[], capacity: number): number[] {
  const best = new Float64Array(capacity + 1);
  const took = weights.map(() => new Uint8Array(capacity + 1));
  weights.forEach((w, i) => {
    if (gains[i] <= 0) return;
    for (let c = capacity; c >= w; c--)
      if (best[c - w] + gains[i] > best[c] + 1e-9) {
        best[c] = best[c - w] + gains[i];
        took[i][c] = 1;
      }
  });
  const items: number[] = [];
  for (let i = weights.length - 1, c = capacity; i >= 0; i--)
    if (took[i][c]) {
      items.push(i);
      c -= weights[i];
    }
  return items;
}
