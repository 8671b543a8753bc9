import { offered, type GroupDemand, type NodeGroup, type NodeSupply, type PricingDemand } from './price-demand.js';

/**
 * Phase 8b (prices, the envy-free levels): node prices that keep every contender out, found
 * without a solver. They are the prices when no LP backend is available or its time is up, and
 * the anchor of the LP's last tie-break. Exact: prices are whole micro-units per GPU-hour.
 *
 * 1. A class that fits on one node sets a floor under that node's price (`floors`).
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
export function groupCost(
  group: NodeGroup,
  gpus: number,
  price: ArrayLike<number>,
  penalty: number,
  nodes: readonly NodeSupply[],
  level = 0,
  rentFree?: (node: number) => boolean,
): number {
  const count = group.nodes.length;
  if (count === 1) {
    // One node (most groups): its free GPUs first, then the leased ones at the penalty more.
    const n = group.nodes[0];
    const { free, leased } = offered(group, 0, nodes);
    const each = level > price[n] && !rentFree?.(n) ? level : price[n];
    if (free + leased < gpus) return Number.POSITIVE_INFINITY;
    return gpus * each + penalty * Math.max(0, gpus - free);
  }
  // Price steps packed as price x 2048 + count (counts are at most 1,024 GPUs, prices whole
  // micro-units far below 2^42), so one typed-array sort orders them without a comparator.
  if (packed.length < count * 2) packed = new Float64Array(count * 4);
  let k = 0;
  for (let i = 0; i < count; i++) {
    const n = group.nodes[i];
    const { free, leased } = offered(group, i, nodes);
    const each = level > price[n] && !rentFree?.(n) ? level : price[n];
    if (free > 0) packed[k++] = each * STEP + free;
    if (leased > 0) packed[k++] = (each + penalty) * STEP + leased;
  }
  const steps = packed.subarray(0, k).sort();
  let need = gpus;
  let cost = 0;
  for (const step of steps) {
    const available = step % STEP;
    const take = Math.min(available, need);
    cost += take * ((step - available) / STEP);
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
export function fillLevel(
  price: ArrayLike<number>,
  group: NodeGroup,
  gpus: number,
  value: number,
  penalty: number,
  nodes: readonly NodeSupply[],
  rentFree: (node: number) => boolean,
): number | null {
  const target = value * gpus;
  if (groupCost(group, gpus, price, penalty, nodes) >= target) return 0;
  if (groupCost(group, gpus, price, penalty, nodes, value, rentFree) < target) return null;
  let lo = 0;
  let hi = value;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (groupCost(group, gpus, price, penalty, nodes, mid, rentFree) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Raises the group's rent-carrying nodes below `level` to it. */
export function raiseTo(
  price: Float64Array,
  group: NodeGroup,
  level: number,
  rentFree: (node: number) => boolean,
): void {
  for (const n of group.nodes) if (!rentFree(n) && price[n] < level) price[n] = level;
}

/** Envy-free node prices in micro-units, indexed like the round's nodes. */
export function envyFreePrices(demand: PricingDemand): Float64Array {
  const { nodes, classes, penalty } = demand;
  const reserves = Float64Array.from(nodes, (n) => n.reserve);
  const price = Float64Array.from(reserves);
  const rentFree = (n: number) => nodes[n].idle;
  // Contested demand only: without an LP to weigh them, scarcity floors would charge fixed leases uplift.
  demand.floors.forEach((f, n) => {
    if (f && f.contested.length > 0 && !rentFree(n) && f.contested[0].micros > price[n])
      price[n] = f.contested[0].micros;
  });
  const levels: [GroupDemand, number][] = [];
  for (const g of demand.groups) {
    if (g.kind !== 'contested') continue;
    const c = classes[g.contender];
    const level = fillLevel(reserves, g, c.gpus, c.best.value, penalty, nodes, rentFree);
    if (level) levels.push([g, level]);
  }
  for (const [g, level] of levels) raiseTo(price, g, level, rentFree);
  return price;
}
