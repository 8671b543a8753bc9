import type { OptionPrice, PricedOption } from './quote-pricing.js';

/**
 * What an option is likely to cost to win within a window, from the same option priced at past
 * rounds' node prices. Pure.
 */

export const WINDOW_QUANTILE = 0.25;

/**
 * The nearest-rank quantile of options priced in past rounds, by price to win: always a round
 * that really happened, never an interpolation.
 */
export function quantileOption(options: readonly PricedOption[], q: number): PricedOption {
  if (options.length === 0) throw new RangeError('quantile of no options');
  const sorted = [...options].sort(
    (a, b) => a.priceToWin.comparedTo(b.priceToWin) || a.unitPrice.comparedTo(b.unitPrice),
  );
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

export interface WindowEstimate {
  /** The estimate, or the option now when it is unavailable in every past round. */
  readonly option: OptionPrice;
  /** `history_p25`: the estimate is a past round's price; `now`: the price now (no cheaper history, or none). */
  readonly from: 'history_p25' | 'now';
  /** Past rounds looked at, and those in which the option could be had at all. */
  readonly rounds: number;
  readonly available: number;
}

/**
 * What an option is likely to cost to win some time within a window: the 25th percentile of its
 * price to win over past rounds (a window lets a bid wait for the cheaper rounds), never above
 * the price now (a bid may also win at once). `past` holds the option priced at each past
 * round's node prices; the limit is the offer's, so `wouldWin` and `reason` are the estimate's.
 */
export function estimateWithinWindow(now: OptionPrice, past: readonly OptionPrice[]): WindowEstimate {
  const priced = past.filter((p): p is PricedOption => p.available);
  const counts = { rounds: past.length, available: priced.length };
  if (priced.length === 0) return { option: now, from: 'now', ...counts };
  const typical = quantileOption(priced, WINDOW_QUANTILE);
  if (now.available && now.priceToWin.lessThanOrEqualTo(typical.priceToWin))
    return { option: now, from: 'now', ...counts };
  return { option: typical, from: 'history_p25', ...counts };
}
