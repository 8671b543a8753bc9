import type { GroupDemand, Member, PricingDemand } from './price-demand.js';

/**
 * Phase 8b (prices, the envy-free levels): node prices that keep every contender out, found
 * without a solver. They are the prices when no LP backend is available or its time is up, and
 * the anchor of the LP's last tie-break. Exact: prices are whole micro-units per GPU-hour.
 *
 * 1. A class that fits on one node sets a floor under that node's price (`bounds`).
 * 2. A class that needs several nodes of a group sets one common level under every node of the
 *    group that may carry rent: the least level at which its `gpus` cheapest GPUs would cost
 *    at least its value (water filling), computed from the reserves alone.
 * A node's price is the highest of its reserve, its floors and the levels of its groups. Each
 * term depends on one class and the allocation only, so more or higher demand never lowers a
 * price (unlike the LP's lowest rents; docs/clearing.md), at the cost of rents above the lowest
 * where groups overlap. Nodes with an idle GPU keep rent 0; a class that idle GPUs alone would
 * let in below its value cannot be kept out (a paradoxical rejection, listed later).
 */

/**
 * What the `gpus` cheapest GPUs of a group cost at these prices, plus the penalty for leased
 * ones; with `level`, as if every node that may carry rent were raised to at least that level.
 */
export function groupCost(members: readonly Member[], gpus: number, price: ArrayLike<number>, penalty: number, level = 0, rentFree?: (node: number) => boolean): number {
  if (members.length === 1) {
    // One node (most groups): its free GPUs first, then the leased ones at the penalty more.
    const m = members[0];
    const each = level > price[m.node] && !rentFree?.(m.node) ? level : price[m.node];
    if (m.free + m.leased < gpus) return Number.POSITIVE_INFINITY;
    return gpus * each + penalty * Math.max(0, gpus - m.free);
  }
  // Price steps packed as price x 2048 + count (counts are at most 1,024 GPUs, prices whole
  // micro-units far below 2^42), so one typed-array sort orders them without a comparator.
  if (packed.length < members.length * 2) packed = new Float64Array(members.length * 4);
  let k = 0;
  for (const m of members) {
    const each = level > price[m.node] && !rentFree?.(m.node) ? level : price[m.node];
    if (m.free > 0) packed[k++] = each * STEP + m.free;
    if (m.leased > 0) packed[k++] = (each + penalty) * STEP + m.leased;
  }
  const steps = packed.subarray(0, k).sort();
  let need = gpus;
  let cost = 0;
  for (const step of steps) {
    const count = step % STEP;
    const take = Math.min(count, need);
    cost += take * ((step - count) / STEP);
    need -= take;
    if (need === 0) return cost;
  }
  return Number.POSITIVE_INFINITY;
}

const STEP = 2048;
let packed = new Float64Array(256);

/**
 * The least common level to which the nodes of a group that may carry rent must rise (those
 * below it) for the group's `gpus` cheapest GPUs to cost at least `value` each; 0 when they
 * already do, null when no level up to `value` itself would (idle GPUs at their reserve let
 * the class in).
 */
export function fillLevel(price: ArrayLike<number>, members: readonly Member[], gpus: number, value: number, penalty: number, rentFree: (node: number) => boolean): number | null {
  const target = value * gpus;
  if (groupCost(members, gpus, price, penalty) >= target) return 0;
  if (groupCost(members, gpus, price, penalty, value, rentFree) < target) return null;
  let lo = 0;
  let hi = value;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (groupCost(members, gpus, price, penalty, mid, rentFree) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Raises the group's rent-carrying nodes below `level` to it. */
export function raiseTo(price: Float64Array, members: readonly Member[], level: number, rentFree: (node: number) => boolean): void {
  for (const m of members) if (!rentFree(m.node) && price[m.node] < level) price[m.node] = level;
}

/** Envy-free node prices in micro-units, indexed like the round's nodes. */
export function envyFreePrices(demand: PricingDemand): Float64Array {
  const { nodes, classes, penalty } = demand;
  const reserves = Float64Array.from(nodes, (n) => n.reserve);
  const price = Float64Array.from(reserves);
  const rentFree = (n: number) => nodes[n].idle;
  // Contested demand only: without an LP to weigh them, scarcity floors would charge fixed leases uplift.
  for (const b of demand.bounds) if (b.kind === 'contested' && !rentFree(b.node) && b.price > price[b.node]) price[b.node] = b.price;
  const levels: [GroupDemand, number][] = [];
  for (const g of demand.groups) {
    if (g.kind !== 'contested') continue;
    const c = classes[g.contender];
    const level = fillLevel(reserves, g.members, c.gpus, c.best.value, penalty, rentFree);
    if (level) levels.push([g, level]);
  }
  for (const [g, level] of levels) raiseTo(price, g.members, level, rentFree);
  return price;
}
