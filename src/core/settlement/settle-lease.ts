import { Decimal } from 'decimal.js';
import { fromMicros, meanHalfEven, toMicros } from '../money/micros.js';
import { LEDGER_DECIMALS, Money, ZERO, allocate, sum } from '../money/money.js';

/**
 * What one lease owes, and what its providers earn, for the seconds it ran in one round
 * (market.md section 5a). The market loop writes these as ledger entries and the simulator
 * adds them up; both call this one function so the two can never disagree on a micro-unit.
 *
 * - Each GPU-second sold earns its node's price: `gross` per share.
 * - The tenant pays min(limit, GPU-weighted mean of its nodes' prices): when the limit is not
 *   below the mean it pays each node its price; when it is, it pays its limit and the rest of
 *   the gross is `uplift`, which the market pays out of its fees.
 * - The provider gets the gross less the fee: charge + uplift = gross = payout + fee, per
 *   share, exactly.
 */
export interface ShareUsage {
  readonly gpus: number;
  /** The node's price for the round (per GPU-hour), at most six decimals. */
  readonly nodePrice: Money;
}

export interface LeasePeriodUsage {
  readonly leaseId: string;
  /** The winning offer's maxPrice (a kept lease's value): no lease ever pays more per GPU-hour. */
  readonly limit: Money;
  readonly shares: readonly ShareUsage[];
  /** Seconds the lease actually ran inside the period (0..periodSeconds). */
  readonly seconds: number;
  /** Platform fee in percent of the providers' gross (0..100). */
  readonly feePercent: Money;
}

export interface ShareSettlement {
  readonly gpuSeconds: number;
  /** nodePrice x GPU-hours, LEDGER_DECIMALS places: what the provider's GPUs earned. */
  readonly gross: Money;
  /** The tenant's part of the gross. */
  readonly charge: Money;
  /** The market's part of the gross (0 unless the lease's limit is below its mean node price). */
  readonly uplift: Money;
  readonly fee: Money;
  /** gross - fee. */
  readonly payout: Money;
}

export interface LeasePeriodSettlement {
  readonly leaseId: string;
  /** min(limit, mean node price rounded half-even to six places), per GPU-hour. */
  readonly unitPrice: Money;
  /** Mean node price minus unitPrice, per GPU-hour. */
  readonly upliftRate: Money;
  readonly shares: readonly ShareSettlement[];
  readonly charge: Money;
  readonly uplift: Money;
  readonly fee: Money;
  readonly payout: Money;
}

export class SettlementInputError extends Error {
  constructor(
    readonly field: keyof LeasePeriodUsage,
    message: string,
  ) {
    super(message);
  }
}

const SECONDS_PER_HOUR = new Money(3600);
const HUNDRED = new Money(100);

function validate(usage: LeasePeriodUsage): void {
  if (usage.shares.length === 0) throw new SettlementInputError('shares', 'a lease has at least one share');
  for (const s of usage.shares) {
    if (!Number.isInteger(s.gpus) || s.gpus <= 0)
      throw new SettlementInputError('shares', 'gpus must be a positive integer');
    if (s.nodePrice.isNegative()) throw new SettlementInputError('shares', 'nodePrice must not be negative');
  }
  if (!Number.isFinite(usage.seconds) || usage.seconds < 0)
    throw new SettlementInputError('seconds', 'seconds must be a non-negative finite number');
  if (usage.limit.isNegative()) throw new SettlementInputError('limit', 'limit must not be negative');
  if (usage.feePercent.isNegative() || usage.feePercent.greaterThan(HUNDRED))
    throw new SettlementInputError('feePercent', 'feePercent must be within 0..100');
}

const ledger = (value: Money) => value.toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN);

/** The lease-level rule of round-files.md: unitPrice = min(limit, mean), uplift = mean - unitPrice. */
export function leaseUnitPrice(limit: Money, shares: readonly ShareUsage[]): { unitPrice: Money; uplift: Money } {
  const gpus = shares.reduce((t, s) => t + s.gpus, 0);
  const mean = meanHalfEven(
    shares.reduce((t, s) => t + s.gpus * toMicros(s.nodePrice), 0),
    gpus,
  );
  const unit = Math.min(mean, toMicros(limit));
  return { unitPrice: fromMicros(unit), uplift: fromMicros(mean - unit) };
}

/**
 * Rounding: each share's gross and fee round once, half-even, at LEDGER_DECIMALS; a capped
 * lease's charge rounds once for the whole lease and its uplift (gross - charge) is split over
 * the shares in proportion to their gross by the largest remainder, so nothing is lost.
 */
export function settleLeasePeriod(usage: LeasePeriodUsage): LeasePeriodSettlement {
  validate(usage);
  const { unitPrice, uplift: upliftRate } = leaseUnitPrice(usage.limit, usage.shares);
  const hours = new Money(usage.seconds).dividedBy(SECONDS_PER_HOUR);
  const gross = usage.shares.map((s) => ledger(s.nodePrice.times(s.gpus).times(hours)));
  const grossTotal = sum(gross);
  let uplifts = gross.map(() => ZERO);
  if (upliftRate.greaterThan(0) && grossTotal.greaterThan(0)) {
    const gpus = usage.shares.reduce((t, s) => t + s.gpus, 0);
    const charge = Money.min(grossTotal, ledger(unitPrice.times(gpus).times(hours)));
    uplifts = allocate(grossTotal.minus(charge), gross);
  }
  const shares = usage.shares.map((s, i): ShareSettlement => {
    const fee = ledger(gross[i].times(usage.feePercent).dividedBy(HUNDRED));
    return {
      gpuSeconds: s.gpus * usage.seconds,
      gross: gross[i],
      charge: gross[i].minus(uplifts[i]),
      uplift: uplifts[i],
      fee,
      payout: gross[i].minus(fee),
    };
  });
  return {
    leaseId: usage.leaseId,
    unitPrice,
    upliftRate,
    shares,
    charge: sum(shares.map((s) => s.charge)),
    uplift: sum(shares.map((s) => s.uplift)),
    fee: sum(shares.map((s) => s.fee)),
    payout: sum(shares.map((s) => s.payout)),
  };
}

export interface PeriodTotals {
  readonly charges: Money;
  readonly uplift: Money;
  readonly fees: Money;
  readonly payouts: Money;
  readonly gpuSeconds: number;
}

/** Settles every lease of a period; the totals reconcile (charges + uplift = payouts + fees). */
export function settlePeriod(usages: readonly LeasePeriodUsage[]): {
  readonly entries: readonly LeasePeriodSettlement[];
  readonly totals: PeriodTotals;
} {
  const entries = usages.map(settleLeasePeriod);
  return {
    entries,
    totals: {
      charges: sum(entries.map((e) => e.charge)),
      uplift: sum(entries.map((e) => e.uplift)),
      fees: sum(entries.map((e) => e.fee)),
      payouts: sum(entries.map((e) => e.payout)),
      gpuSeconds: entries.reduce((acc, e) => acc + e.shares.reduce((t, s) => t + s.gpuSeconds, 0), 0),
    },
  };
}

export const NO_CHARGE: PeriodTotals = { charges: ZERO, uplift: ZERO, fees: ZERO, payouts: ZERO, gpuSeconds: 0 };
