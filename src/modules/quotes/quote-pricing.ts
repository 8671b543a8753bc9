import { formatAmount, formatPrice, type Money, minMoney } from '../../core/money/money.js';
import type { Contiguity } from '../../core/market/types.js';

/** Where a price estimate came from, so a caller knows how much to trust it. */
export type EstimateBasis = 'current_price' | 'reserve_floor' | 'history_p50' | 'history_p25';

export interface Estimate {
  readonly pricePerGpuHour: string;
  readonly cost: string;
  readonly basis: EstimateBasis;
}

export const PREEMPTIBLE_NOW_QUANTILE = 0.5;
export const PREEMPTIBLE_WINDOW_QUANTILE = 0.25;

/**
 * The nearest-rank quantile of exact prices: always one of the observed prices, so the estimate
 * is a price the pool really cleared at, never an interpolation.
 */
export function quantile(prices: readonly Money[], q: number): Money {
  if (prices.length === 0) throw new RangeError('quantile of no prices');
  const sorted = [...prices].sort((a, b) => a.comparedTo(b));
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** The cost of a whole run: price per GPU-hour x GPUs x hours, exact, then rounded to the ledger's 6 places. */
export function runCost(pricePerGpuHour: Money, gpus: number, runtimeSeconds: number): Money {
  return pricePerGpuHour.times(gpus).times(runtimeSeconds).dividedBy(3600).toDecimalPlaces(6);
}

export interface PoolQuoteInput {
  /** Latest committed price of the pool, or null before it was ever priced. */
  readonly current: Money | null;
  /** Lowest reserve among the pool's active nodes: the price of an idle pool. */
  readonly reserveFloor: Money;
  /** Committed prices over the last 24 hours of the pool's rounds. */
  readonly history: readonly Money[];
  readonly limit: Money;
  readonly gpus: number;
  readonly runtimeSeconds: number;
  readonly hasWindow: boolean;
}

export interface PoolEstimates {
  readonly nonPreemptibleNow: Estimate;
  readonly preemptibleNow: Estimate;
  readonly preemptibleWithinWindow: Estimate | null;
}

/**
 * Expected prices of a run in one pool. Each lease pays min(pool price, its limit) every period:
 * - non-preemptible now: the current price (it keeps its place whatever the price does);
 * - preemptible now: the lower of the current price and the median of the last 24 h, since a
 *   preemptible lease runs through the cheaper rounds and is displaced in the dearer ones;
 * - preemptible within a window: the lower of the current price and the 25th percentile, since
 *   a window lets it wait for the cheap rounds.
 * With no history every estimate is the current price, or the reserve floor before the first round.
 */
export function estimatePool(input: PoolQuoteInput): PoolEstimates {
  const now: { price: Money; basis: EstimateBasis } =
    input.current === null ? { price: input.reserveFloor, basis: 'reserve_floor' } : { price: input.current, basis: 'current_price' };
  const estimate = (price: Money, basis: EstimateBasis): Estimate => {
    const paid = minMoney(price, input.limit);
    return { pricePerGpuHour: formatPrice(paid), cost: formatAmount(runCost(paid, input.gpus, input.runtimeSeconds)), basis };
  };
  const fromHistory = (q: number, basis: EstimateBasis): Estimate => {
    if (input.history.length === 0) return estimate(now.price, now.basis);
    const typical = quantile(input.history, q);
    return typical.lessThan(now.price) ? estimate(typical, basis) : estimate(now.price, now.basis);
  };
  return {
    nonPreemptibleNow: estimate(now.price, now.basis),
    preemptibleNow: fromHistory(PREEMPTIBLE_NOW_QUANTILE, 'history_p50'),
    preemptibleWithinWindow: input.hasWindow ? fromHistory(PREEMPTIBLE_WINDOW_QUANTILE, 'history_p25') : null,
  };
}

export interface FreeNode {
  readonly id: string;
  readonly memoryGb: number;
  readonly region: string;
  readonly block: string;
  readonly nvlinkDomain: string;
  readonly compliance: readonly string[];
  readonly reservePrice: Money;
  readonly freeGpus: number;
}

export interface Constraints {
  readonly contiguity: Contiguity;
  readonly compliance: readonly string[];
  readonly minGpuMemoryGb: number;
  readonly limit: Money;
}

/**
 * The most free GPUs of one pool a gang could get now under its constraints: nodes that meet
 * memory and compliance and ask no more than the limit, summed per contiguity group, the
 * largest group. Only GPUs free now count; displacing a preemptible lease is up to the round.
 */
export function largestFreeGroup(nodes: readonly FreeNode[], c: Constraints): number {
  const groups = new Map<string, number>();
  for (const node of nodes) {
    if (node.freeGpus <= 0 || node.memoryGb < c.minGpuMemoryGb || node.reservePrice.greaterThan(c.limit)) continue;
    if (!c.compliance.every((tag) => node.compliance.includes(tag))) continue;
    const key = c.contiguity === 'node' ? node.id : c.contiguity === 'nvlink' ? node.nvlinkDomain : c.contiguity === 'block' ? node.block : '*';
    groups.set(key, (groups.get(key) ?? 0) + node.freeGpus);
  }
  return Math.max(0, ...groups.values());
}
