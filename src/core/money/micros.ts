import { Money } from './money.js';

/**
 * Rates per GPU-hour as whole micro-units (1e-6): the unit node prices, unit prices and uplift
 * are stated in. Integers in a double are exact below 2^53, which covers any price the API
 * accepts (at most 1,000,000 per GPU-hour, 1e12 micro-units) times any gang (up to 1,000 GPUs),
 * so sums and comparisons of prices in micro-units are exact and need no Decimal per step.
 */
export const MICROS_PER_UNIT = 1_000_000;
export const RATE_DECIMALS = 6;

/** A price with at most six decimals, in micro-units. Throws on a seventh decimal rather than rounding silently. */
export function toMicros(value: Money): number {
  const scaled = value.times(MICROS_PER_UNIT);
  if (!scaled.isInteger()) throw new RangeError(`${value.toFixed()} has more than ${RATE_DECIMALS} decimals`);
  return scaled.toNumber();
}

export function fromMicros(micros: number): Money {
  return new Money(micros).dividedBy(MICROS_PER_UNIT);
}

/** total / count rounded half-even to a whole micro-unit: the GPU-weighted mean of a lease's node prices. */
export function meanHalfEven(total: number, count: number): number {
  const quotient = Math.floor(total / count);
  const twice = 2 * (total - quotient * count);
  if (twice > count || (twice === count && quotient % 2 !== 0)) return quotient + 1;
  return quotient;
}

/** Smallest integer at or above numerator / denominator, for integers (denominator > 0). */
export function ceilDiv(numerator: number, denominator: number): number {
  let q = Math.ceil(numerator / denominator);
  // Float division can land on the wrong side of an integer; settle it with exact products.
  while (q * denominator < numerator) q++;
  while ((q - 1) * denominator >= numerator) q--;
  return q;
}

/** A rate as a decimal string with six places, the form of unit prices and uplift in results and the ledger. */
export function formatRate(micros: number): string {
  return fromMicros(micros).toFixed(RATE_DECIMALS);
}
