import { maxMoney, minMoney } from '../money/money.js';
import type { Money } from '../money/money.js';
import { poolKey } from '../market/types.js';
import type { Placement, PoolPrice, RoundSnapshot } from '../market/types.js';
import type { Allocation } from '../solvers/greedy-heuristic.js';
import type { RoundProblem } from './round-problem.js';

/**
 * Phase 4 (pricing): one price per pool (gpuModel x region), exact and reproducible.
 *
 * The LP duals of the pool's capacity rows are the textbook marginal value of one more GPU,
 * but they are not unique (environment.md), so the published price uses the equivalent rule
 * that picks the lowest price consistent with the allocation, snapped to a bid's own value:
 *
 *   price = max(floor, highest value per GPU-hour among the demand the pool turned away)
 *
 * - floor: the lowest reserve among the pool's nodes carrying a placement or kept lease this
 *   round; among all its active nodes when none do.
 * - turned away: a losing bid with an eligible node in the pool (model, region, hard
 *   constraints, reserve) for which the pool's eligible GPUs left free are fewer than its gang,
 *   and every displaced lease in the pool. That includes a bid that had no candidate at all
 *   because leases that cannot be displaced fill the nodes it would fit on: a pool full of
 *   protected work with bids waiting is congested, not idle. A bid that lost only to
 *   contiguity while the pool had the GPUs free does not raise the price, nor does one that
 *   would not fit even on an empty pool: that pool is not short of GPUs.
 *
 * So an idle pool is priced at its floor, and a congested one at the best rejected value, the
 * marginal bid, which is recorded. Each lease then pays min(price, its own limit).
 */
export function pricePools(problem: RoundProblem, allocation: Allocation, free: Int32Array): PoolPrice[] {
  const pools = new Map<string, { gpuModel: string; region: string; floor: Money | null; cheapest: Money; best: Money | null; bidId: string | null }>();
  for (const { node } of problem.nodes) {
    const key = poolKey(node.gpuModel, node.region);
    const pool = pools.get(key);
    if (!pool) pools.set(key, { gpuModel: node.gpuModel, region: node.region, floor: null, cheapest: node.reservePrice, best: null, bidId: null });
    else if (node.reservePrice.lessThan(pool.cheapest)) pool.cheapest = node.reservePrice;
  }
  const poolOf = (n: number) => pools.get(poolKey(problem.nodes[n].node.gpuModel, problem.nodes[n].node.region))!;
  const used = (n: number) => {
    const pool = poolOf(n);
    const reserve = problem.nodes[n].node.reservePrice;
    if (!pool.floor || reserve.lessThan(pool.floor)) pool.floor = reserve;
  };
  const preempted = new Set(allocation.preempted);
  for (const a of allocation.assignments) for (const s of a.shares) used(s.node);
  for (const l of problem.fixedLeases) for (const s of l.placement) used(problem.nodeIndex.get(s.node)!);
  for (const l of problem.flexibleLeases) if (!preempted.has(l.index)) for (const s of l.shares) used(s.node);

  const offerTurnedAway = (pool: ReturnType<typeof poolOf>, value: Money, bidId: string) => {
    if (!pool.best || value.greaterThan(pool.best) || (value.equals(pool.best) && bidId < pool.bidId!)) {
      pool.best = value;
      pool.bidId = bidId;
    }
  };
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  // Bids with equal eligibility keys see the same free GPUs per pool: count them once.
  const freeByKey = new Map<string, Map<ReturnType<typeof poolOf>, number>>();
  for (const b of problem.bids) {
    if (placed.has(b.index)) continue;
    for (const option of [...b.options, ...b.blocked]) {
      let freeByPool = freeByKey.get(option.eligibilityKey);
      if (!freeByPool) {
        freeByKey.set(option.eligibilityKey, (freeByPool = new Map()));
        for (const n of option.eligible) freeByPool.set(poolOf(n), (freeByPool.get(poolOf(n)) ?? 0) + Math.max(0, free[n]));
      }
      const value = b.bid.offers[option.offerIndex].maxPrice;
      for (const [pool, gpus] of freeByPool) if (gpus < b.bid.gpus) offerTurnedAway(pool, value, b.bid.id);
    }
  }
  for (const l of allocation.preempted) {
    const lease = problem.flexibleLeases[l];
    offerTurnedAway(poolOf(lease.shares[0].node), lease.lease.value, lease.lease.bidId);
  }

  return [...pools.values()]
    .sort((a, b) => (a.gpuModel < b.gpuModel ? -1 : a.gpuModel > b.gpuModel ? 1 : a.region < b.region ? -1 : a.region > b.region ? 1 : 0))
    .map((pool) => {
      const floor = pool.floor ?? pool.cheapest;
      const setByBid = pool.best !== null && pool.best.greaterThan(floor);
      return { gpuModel: pool.gpuModel, region: pool.region, price: setByBid ? maxMoney(floor, pool.best!) : floor, marginalBidId: setByBid ? pool.bidId : null };
    });
}

/**
 * What a placement pays per GPU-hour: min(pool price, its own limit). A placement spanning
 * regions (contiguity `none`) pays the highest of its pools' prices, still capped by its limit.
 */
export function unitPrice(snapshot: RoundSnapshot, prices: readonly PoolPrice[], placement: Placement): Money {
  const limit = snapshot.bids.find((b) => b.id === placement.bidId)!.offers.find((o) => o.gpuModel === placement.gpuModel)!.maxPrice;
  const regions = new Set(placement.nodes.map((s) => snapshot.nodes.find((n) => n.id === s.node)!.region));
  const pool = prices.filter((p) => p.gpuModel === placement.gpuModel && regions.has(p.region)).map((p) => p.price);
  return minMoney(limit, pool.reduce((a, b) => maxMoney(a, b)));
}
