import { Money, ZERO } from '../money/money.js';
import { settleLeasePeriod } from '../settlement/settle-lease.js';
import type { Charging, LeaseRecord } from './scheduler.js';
import { flexibilityClass, type FlexibilityClass } from './workload.js';

const MICROS = 1_000_000;
const toMicros = (amount: Money): bigint => BigInt(amount.times(MICROS).toFixed(0));

interface Settled {
  readonly charge: bigint;
  readonly uplift: bigint;
  readonly fee: bigint;
  readonly payout: bigint;
}

/**
 * Runs every lease-period through the market's own settlement rule
 * (src/core/settlement/settle-lease.ts, the one the market loop's ledger uses) and keeps the
 * totals. Per lease and period: each share earns its node's price for its GPU-seconds (the
 * gross); the tenant pays it unless the lease's limit is below its mean node price, and then
 * pays its limit and the rest is uplift; the fee is a share of the gross and the providers get
 * the rest, so charges + uplift = payouts + fees exactly.
 *
 * Ledger amounts have six decimals, so they are summed as integer micro-units in bigints (exact
 * at any size, and much cheaper than a Decimal per entry over millions of lease-periods); the
 * same inputs recur round after round, so each distinct (shares' node prices and GPUs, cap,
 * seconds) is settled once and remembered.
 */
export class SettlementMeter {
  private readonly memo = new Map<string, Settled>();
  private readonly feePercent: Money;
  /** What tenants paid. */
  chargesMicros = 0n;
  /** What the market paid providers on top of the charges, where a lease's limit capped its price. */
  upliftMicros = 0n;
  feesMicros = 0n;
  payoutsMicros = 0n;
  /** Charges by tenant, flexibility class and job; uplift by flexibility class. */
  readonly byTenant = new Map<string, bigint>();
  readonly byClass = new Map<FlexibilityClass, bigint>();
  readonly upliftByClass = new Map<FlexibilityClass, bigint>();
  readonly byJob = new Map<number, bigint>();
  /** Lease-periods settled. */
  entries = 0;

  constructor(feePercent: Money) {
    this.feePercent = feePercent;
  }

  /** One lease's seconds in one period, at the prices the last round set for it. */
  record(rec: LeaseRecord, seconds: number, charging: Charging): void {
    const pricing = rec.pricing;
    if (charging === 'reserved' || pricing === null) return;
    const key = `${pricing.key}|${seconds}`;
    let settled = this.memo.get(key);
    if (!settled) {
      const s = settleLeasePeriod({
        leaseId: rec.id,
        limit: pricing.cap,
        shares: rec.shares.map((share, k) => ({ gpus: share.gpus, nodePrice: pricing.nodePrices[k] })),
        seconds,
        feePercent: this.feePercent,
      });
      settled = {
        charge: toMicros(s.charge),
        uplift: toMicros(s.uplift),
        fee: toMicros(s.fee),
        payout: toMicros(s.payout),
      };
      this.memo.set(key, settled);
    }
    this.entries++;
    this.chargesMicros += settled.charge;
    this.upliftMicros += settled.uplift;
    this.feesMicros += settled.fee;
    this.payoutsMicros += settled.payout;
    const c = flexibilityClass(rec.job);
    add(this.byTenant, rec.job.tenant, settled.charge);
    add(this.byClass, c, settled.charge);
    add(this.byJob, rec.jobIndex, settled.charge);
    if (settled.uplift !== 0n) add(this.upliftByClass, c, settled.uplift);
  }

  static toMoney(micros: bigint): Money {
    return micros === 0n ? ZERO : new Money(micros.toString()).dividedBy(MICROS);
  }
}

function add<K>(map: Map<K, bigint>, key: K, value: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + value);
}
