import { Decimal } from 'decimal.js';

/**
 * Exact decimal money. Prices are per GPU-hour with at most PRICE_DECIMALS places; ledger
 * amounts carry LEDGER_DECIMALS places. Every rounding in the project goes through this file,
 * so the rule (half-even) is stated once.
 */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Money = Decimal;

export const PRICE_DECIMALS = 4;
export const LEDGER_DECIMALS = 6;

export const ZERO: Money = new Money(0);

const DECIMAL_TEXT = /^-?\d+(\.\d+)?$/;

export class MoneyFormatError extends Error {
  constructor(
    readonly rule: 'not_a_decimal' | 'too_many_decimals' | 'negative' | 'too_large',
    message: string,
  ) {
    super(message);
  }
}

/** Parses a decimal string or a finite number. Numbers are read through their shortest text form. */
export function toMoney(input: string | number | Decimal): Money {
  if (Decimal.isDecimal(input)) return new Money(input as Decimal);
  const text = typeof input === 'number' ? (Number.isFinite(input) ? String(input) : 'NaN') : input.trim();
  if (!DECIMAL_TEXT.test(text))
    throw new MoneyFormatError('not_a_decimal', `"${String(input)}" is not a decimal number`);
  return new Money(text);
}

/** A price per GPU-hour: non-negative, at most PRICE_DECIMALS places, below `max`. */
export function parsePrice(input: string | number, max: Money = new Money(1_000_000)): Money {
  const value = toMoney(input);
  if (value.isNegative()) throw new MoneyFormatError('negative', 'must not be negative');
  if (value.decimalPlaces() > PRICE_DECIMALS)
    throw new MoneyFormatError('too_many_decimals', `must have at most ${PRICE_DECIMALS} decimal places`);
  if (value.greaterThan(max)) throw new MoneyFormatError('too_large', `must be at most ${max.toFixed()}`);
  return value;
}

/**
 * A price per GPU-hour as text: at least two places, at most six. Bids and reserves have at
 * most PRICE_DECIMALS places; node prices, unit prices and uplift (market.md section 5a) have
 * up to six, which must not be rounded away when shown.
 */
export function formatPrice(value: Money): string {
  return value.toDecimalPlaces(RATE_PLACES).toFixed(Math.max(2, Math.min(RATE_PLACES, value.decimalPlaces())));
}

const RATE_PLACES = 6;

export function formatAmount(value: Money, places = LEDGER_DECIMALS): string {
  return value.toDecimalPlaces(places).toFixed(places);
}

export function sum(values: Iterable<Money>): Money {
  let total = ZERO;
  for (const v of values) total = total.plus(v);
  return total;
}

export function minMoney(a: Money, b: Money): Money {
  return a.lessThanOrEqualTo(b) ? a : b;
}

export function maxMoney(a: Money, b: Money): Money {
  return a.greaterThanOrEqualTo(b) ? a : b;
}

/**
 * Splits `total` into parts proportional to `weights`, each rounded to `places`, such that the
 * parts add up to `total` exactly (largest-remainder method; ties go to the earlier weight).
 */
export function allocate(total: Money, weights: readonly Money[], places = LEDGER_DECIMALS): Money[] {
  const weightSum = sum(weights);
  if (weights.length === 0) return [];
  if (weightSum.isZero()) throw new RangeError('allocate: weights sum to zero');
  const unit = new Money(1).dividedBy(new Money(10).pow(places));
  const exact = weights.map((w) => total.times(w).dividedBy(weightSum));
  const floored = exact.map((e) => e.toDecimalPlaces(places, Decimal.ROUND_FLOOR));
  let remainder = total.minus(sum(floored));
  const order = exact
    .map((e, i) => ({ i, frac: e.minus(floored[i]) }))
    .sort((a, b) => b.frac.comparedTo(a.frac) || a.i - b.i);
  for (let k = 0; remainder.greaterThanOrEqualTo(unit) && k < order.length; k++) {
    floored[order[k].i] = floored[order[k].i].plus(unit);
    remainder = remainder.minus(unit);
  }
  return floored;
}
