import { Decimal } from 'decimal.js';
import { formatPrice, toMoney } from '../money/money.js';
import { RATIO_DECIMALS } from './report-figures.js';

/**
 * The pool summary's derived figures, exact from the database's numeric text: each division
 * rounds once, half-even, at the places stated.
 */

/** Percent changes show two places. */
export const PERCENT_DECIMALS = 2;

export interface IndexChange {
  /** now - before, exact (prices have at most six places, so the difference does too). */
  readonly change: string | null;
  /** change / before x 100, two places; null when before is zero (no percentage of nothing). */
  readonly percent: string | null;
}

/** How far a pool's index moved between two rounds; nulls when either price is missing. */
export function indexChange(now: string | null, before: string | null): IndexChange {
  if (now === null || before === null) return { change: null, percent: null };
  const base = toMoney(before);
  const change = toMoney(now).minus(base);
  return {
    change: formatPrice(change),
    percent: base.isZero()
      ? null
      : change
          .times(100)
          .dividedBy(base)
          .toDecimalPlaces(PERCENT_DECIMALS, Decimal.ROUND_HALF_EVEN)
          .toFixed(PERCENT_DECIMALS),
  };
}

/** Events per GPU-hour from a count and GPU-seconds, RATIO_DECIMALS places; null over no GPU-seconds. */
export function perGpuHour(count: number, gpuSeconds: string): string | null {
  const seconds = toMoney(gpuSeconds);
  if (seconds.isZero()) return null;
  return toMoney(count)
    .times(3600)
    .dividedBy(seconds)
    .toDecimalPlaces(RATIO_DECIMALS, Decimal.ROUND_HALF_EVEN)
    .toFixed(RATIO_DECIMALS);
}
