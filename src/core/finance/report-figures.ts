import { Decimal } from 'decimal.js';
import { formatAmount, formatPrice, LEDGER_DECIMALS, Money, PRICE_DECIMALS, toMoney } from '../money/money.js';

/**
 * The derived figures of the finance reports, computed exactly from the exact sums the database
 * returns (numeric as text). Each division rounds once, half-even, at the places stated here:
 * prices at PRICE_DECIMALS, GPU-hours and money at LEDGER_DECIMALS, ratios at RATIO_DECIMALS.
 */
export const RATIO_DECIMALS = 6;

const SECONDS_PER_HOUR = new Money(3600);

type Exact = string | number | Money;

/** GPU-seconds as GPU-hours, LEDGER_DECIMALS places. */
export function gpuHoursOf(gpuSeconds: Exact): string {
  return formatAmount(toMoney(gpuSeconds).dividedBy(SECONDS_PER_HOUR));
}

/**
 * Volume-weighted average price: sum(price x volume) / sum(volume), PRICE_DECIMALS places;
 * null when nothing was sold (there is no average of no trades).
 */
export function volumeWeightedPrice(priceTimesVolume: Exact, volume: Exact): string | null {
  const total = toMoney(volume);
  if (total.isZero()) return null;
  return formatPrice(toMoney(priceTimesVolume).dividedBy(total).toDecimalPlaces(PRICE_DECIMALS, Decimal.ROUND_HALF_EVEN));
}

/** Part over whole, RATIO_DECIMALS places; null when the whole is zero (nothing was on offer). */
export function ratioOf(part: Exact, whole: Exact): string | null {
  const total = toMoney(whole);
  if (total.isZero()) return null;
  return toMoney(part).dividedBy(total).toDecimalPlaces(RATIO_DECIMALS, Decimal.ROUND_HALF_EVEN).toFixed(RATIO_DECIMALS);
}

/** A price column of the database (numeric) in the API's price format. */
export function priceText(value: Exact): string {
  return formatPrice(toMoney(value));
}

/** An amount column (numeric sums of ledger amounts) in the API's amount format. */
export function amountText(value: Exact): string {
  return formatAmount(toMoney(value), LEDGER_DECIMALS);
}

export interface MoneyTotals {
  readonly charges: Exact;
  readonly payouts: Exact;
  readonly fees: Exact;
}

/**
 * What finance reconciles: tenants paid exactly what providers received plus the platform's fee.
 * The difference is charges - payouts - fees, unrounded; anything but zero is a broken ledger.
 */
export function reconcile(totals: MoneyTotals): { charges: string; payouts: string; fees: string; difference: string; balanced: boolean } {
  const difference = toMoney(totals.charges).minus(totals.payouts).minus(totals.fees);
  return {
    charges: amountText(totals.charges),
    payouts: amountText(totals.payouts),
    fees: amountText(totals.fees),
    difference: difference.toFixed(Math.max(LEDGER_DECIMALS, difference.decimalPlaces())),
    balanced: difference.isZero(),
  };
}
