import { Decimal } from 'decimal.js';
import { LEDGER_DECIMALS, Money, ZERO, minMoney, sum } from '../money/money.js';

/**
 * What one lease owes for the seconds it ran in one round. The market loop writes these as
 * ledger entries and the simulator adds them up; both call this one function so the two can
 * never disagree on a cent.
 */
export interface LeasePeriodUsage {
  readonly leaseId: string;
  /** The pool's clearing price for the round (per GPU-hour). */
  readonly poolPrice: Money;
  /** The winning offer's maxPrice: no winner ever pays more than it bid. */
  readonly limit: Money;
  readonly gpus: number;
  /** Seconds the lease actually ran inside the period (0..periodSeconds). */
  readonly seconds: number;
  /** Platform fee in percent of the charge (0..100). */
  readonly feePercent: Money;
}

export interface LeasePeriodSettlement {
  readonly leaseId: string;
  /** min(poolPrice, limit), per GPU-hour. */
  readonly unitPrice: Money;
  readonly gpuSeconds: number;
  /** What the tenant pays, LEDGER_DECIMALS places. */
  readonly charge: Money;
  /** The platform's share of the charge, LEDGER_DECIMALS places. */
  readonly fee: Money;
  /** What the provider receives: charge - fee, so charge = payout + fee exactly. */
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
  if (!Number.isInteger(usage.gpus) || usage.gpus < 0) throw new SettlementInputError('gpus', 'gpus must be a non-negative integer');
  if (!Number.isFinite(usage.seconds) || usage.seconds < 0)
    throw new SettlementInputError('seconds', 'seconds must be a non-negative finite number');
  if (usage.poolPrice.isNegative()) throw new SettlementInputError('poolPrice', 'poolPrice must not be negative');
  if (usage.limit.isNegative()) throw new SettlementInputError('limit', 'limit must not be negative');
  if (usage.feePercent.isNegative() || usage.feePercent.greaterThan(HUNDRED))
    throw new SettlementInputError('feePercent', 'feePercent must be within 0..100');
}

/**
 * Rounding happens twice, both half-even at LEDGER_DECIMALS: once for the charge and once for
 * the fee. The payout is the difference, not a third rounding, which is what keeps the ledger
 * balanced to the last micro-unit.
 */
export function settleLeasePeriod(usage: LeasePeriodUsage): LeasePeriodSettlement {
  validate(usage);
  const unitPrice = minMoney(usage.poolPrice, usage.limit);
  const charge = unitPrice
    .times(usage.gpus)
    .times(usage.seconds)
    .dividedBy(SECONDS_PER_HOUR)
    .toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN);
  const fee = charge.times(usage.feePercent).dividedBy(HUNDRED).toDecimalPlaces(LEDGER_DECIMALS, Decimal.ROUND_HALF_EVEN);
  return {
    leaseId: usage.leaseId,
    unitPrice,
    gpuSeconds: usage.gpus * usage.seconds,
    charge,
    fee,
    payout: charge.minus(fee),
  };
}

export interface PeriodTotals {
  readonly charges: Money;
  readonly fees: Money;
  readonly payouts: Money;
  readonly gpuSeconds: number;
}

/** Settles every lease of a period; the totals reconcile (charges = payouts + fees). */
export function settlePeriod(usages: readonly LeasePeriodUsage[]): {
  readonly entries: readonly LeasePeriodSettlement[];
  readonly totals: PeriodTotals;
} {
  const entries = usages.map(settleLeasePeriod);
  return {
    entries,
    totals: {
      charges: sum(entries.map((e) => e.charge)),
      fees: sum(entries.map((e) => e.fee)),
      payouts: sum(entries.map((e) => e.payout)),
      gpuSeconds: entries.reduce((acc, e) => acc + e.gpuSeconds, 0),
    },
  };
}

export const NO_CHARGE: PeriodTotals = { charges: ZERO, fees: ZERO, payouts: ZERO, gpuSeconds: 0 };
