import { Money, PRICE_DECIMALS, type Money as MoneyValue } from '../money/money.js';

/**
 * What replica k of a service bids. A service's first replicas are what it must have; each one
 * above them is worth less than the one before (it serves the tail of the load), so the market
 * keeps only the replicas worth their price: when prices rise, the highest ranks lose first.
 *
 *   value(k) = maxPrice x 0.9^(k - base),  base = max(minReplicas, 1), k = 1, 2, ...
 *
 * Replicas 1..base bid the full maxPrice (a scale-to-zero service's first replica is the one
 * that answers at all). Rounded down to the bid's 4 decimals, so never above maxPrice; at
 * least 0.0001 (a bid's price must be positive).
 */
export const REPLICA_VALUE_DECAY = new Money('0.9');
const SMALLEST = new Money(1).dividedBy(10 ** PRICE_DECIMALS);

export function replicaPrice(maxPrice: MoneyValue, rank: number, minReplicas: number): MoneyValue {
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`replica rank must be a positive integer, got ${rank}`);
  const steps = Math.max(0, rank - Math.max(minReplicas, 1));
  const value = new Money(maxPrice)
    .times(REPLICA_VALUE_DECAY.pow(steps))
    .toDecimalPlaces(PRICE_DECIMALS, Money.ROUND_DOWN);
  return value.lessThan(SMALLEST) ? SMALLEST : value;
}

/** The offers of replica k: each offer's limit scaled by the same rule. */
export function replicaOffers(
  offers: ReadonlyArray<{ gpuModel: string; maxPrice: string }>,
  rank: number,
  minReplicas: number,
): Array<{ gpuModel: string; maxPrice: string }> {
  return offers.map((o) => ({
    gpuModel: o.gpuModel,
    maxPrice: replicaPrice(new Money(o.maxPrice), rank, minReplicas).toFixed(),
  }));
}
