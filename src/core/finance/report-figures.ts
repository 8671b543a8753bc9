import { Decimal } from 'decimal.js';
import { RATE_DECIMALS } from '../money/micros.js';
import { formatAmount, formatPrice, LEDGER_DECIMALS, Money, toMoney } from '../money/money.js';

/**
 * The derived figures of the finance reports, computed exactly from the exact sums the database
 * returns (numeric as text). Each division rounds once, half-even, at the places stated here:
 * prices at RATE_DECIMALS (node prices, unit prices and uplift have up to six places), GPU-hours
 * and money at LEDGER_DECIMALS, ratios at RATIO_DECIMALS.
 */
export const RATIO_DECIMALS = 6;

const SECONDS_PER_HOUR = new Money(3600);

type Exact = string | number | Money;

/** GPU-seconds as GPU-hours, LEDGER_DECIMALS places. */
export function gpuHoursOf(gpuSeconds: Exact): string {
  return formatAmount(toMoney(gpuSeconds).dividedBy(SECONDS_PER_HOUR));
}

/**
 * Volume-weighted average price: sum(price x volume) / sum(volume), RATE_DECIMALS places;
 * null when nothing was sold (there is no average of no trades).
 */
export function volumeWeightedPrice(priceTimesVolume: Exact, volume: Exact): string | null {
  const total = toMoney(volume);
  if (total.isZero()) return null;
  return formatPrice(
    toMoney(priceTimesVolume).dividedBy(total).toDecimalPlaces(RATE_DECIMALS, Decimal.ROUND_HALF_EVEN),
  );
}

/** Part over whole, RATIO_DECIMALS places; null when the whole is zero (nothing was on offer). */
export function ratioOf(part: Exact, whole: Exact): string | null {
  const total = toMoney(whole);
  if (total.isZero()) return null;
  return toMoney(part)
    .dividedBy(total)
    .toDecimalPlaces(RATIO_DECIMALS, Decimal.ROUND_HALF_EVEN)
    .toFixed(RATIO_DECIMALS);
}

/** A price column of the database (numeric) in the API's price format. */
export function priceText(value: Exact): string {
  return formatPrice(toMoney(value));
}

/** A nullable price column: null stays null. */
export function optionalPriceText(value: Exact | null | undefined): string | null {
  return value === null || value === undefined ? null : priceText(value);
}

/** A node's scarcity rent this round: its price minus its reserve, exact (both have at most six places). */
export function rentOf(price: Exact, reservePrice: Exact): string {
  return priceText(toMoney(price).minus(toMoney(reservePrice)));
}

/** An amount column (numeric sums of ledger amounts) in the API's amount format. */
export function amountText(value: Exact): string {
  return formatAmount(toMoney(value), LEDGER_DECIMALS);
}

export interface MoneyTotals {
  readonly charges: Exact;
  /** What the market paid providers on top of capped tenants' charges (market.md section 5a). */
  readonly uplift: Exact;
  readonly payouts: Exact;
  readonly fees: Exact;
}

export interface Reconciled {
  charges: string;
  uplift: string;
  payouts: string;
  fees: string;
  difference: string;
  balanced: boolean;
}

/**
 * What finance reconciles: what tenants paid plus the uplift the market paid is exactly what
 * providers received plus the platform's fee (charges + uplift = payouts + fees). The difference
 * is charges + uplift - payouts - fees, unrounded; anything but zero is a broken ledger.
 */
export function reconcile(totals: MoneyTotals): Reconciled {
  const difference = toMoney(totals.charges).plus(totals.uplift).minus(totals.payouts).minus(totals.fees);
  return {
    charges: amountText(totals.charges),
    uplift: amountText(totals.uplift),
    payouts: amountText(totals.payouts),
    fees: amountText(totals.fees),
    difference: difference.toFixed(Math.max(LEDGER_DECIMALS, difference.decimalPlaces())),
    balanced: difference.isZero(),
  };
}

/** The market's own take: its fees less the uplift it paid out of them (negative when uplift exceeds fees). */
export function netFeesOf(fees: Exact, uplift: Exact): string {
  return amountText(toMoney(fees).minus(toMoney(uplift)));
}
