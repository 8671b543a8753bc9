import { Money, ZERO } from '../money/money.js';
import { settleLeasePeriod } from '../settlement/settle-lease.js';
import type { Charging, LeaseRecord } from './scheduler.js';
import { flexibilityClass, type FlexibilityClass } from './workload.js';

const MICROS = 1_000_000;

/**
 * Runs every lease-period through the market's own settlement rule and keeps the totals.
 * Ledger amounts have six decimals, so they are summed as integer micro-units in bigints (exact
 * at any size, and much cheaper than a Decimal per entry over millions of lease-periods); the
 * same inputs recur round after round, so each distinct (unit price, gpus, seconds) is settled
 * once and remembered.
 */
export class SettlementMeter {
  private readonly memo = new Map<string, { charge: bigint; fee: bigint }>();
  private readonly feePercent: Money;
  chargesMicros = 0n;
  feesMicros = 0n;
  readonly byTenant = new Map<string, bigint>();
  readonly byClass = new Map<FlexibilityClass, bigint>();
  readonly byJob = new Map<number, bigint>();
  entries = 0;

  constructor(feePercent: Money) {
    this.feePercent = feePercent;
  }

  /**
   * One lease's seconds in one period, per share at the unit price the round set for it
   * (min(pool price, limit) in the market, the reserve for list pricing), through the same
   * settlement rule as the market loop's ledger.
   */
  record(rec: LeaseRecord, seconds: number, unitPrices: readonly Money[], charging: Charging): void {
    if (charging === 'reserved') return;
    rec.shares.forEach((share, k) => {
      const unit = unitPrices[k];
      const limit = charging === 'clearing' ? rec.limit : unit;
      const key = `${unit.toString()}|${limit.toString()}|${share.gpus}|${seconds}`;
      let settled = this.memo.get(key);
      if (!settled) {
        const s = settleLeasePeriod({ leaseId: rec.id, poolPrice: unit, limit, gpus: share.gpus, seconds, feePercent: this.feePercent });
        settled = { charge: BigInt(s.charge.times(MICROS).toFixed(0)), fee: BigInt(s.fee.times(MICROS).toFixed(0)) };
        this.memo.set(key, settled);
      }
      this.entries++;
      this.chargesMicros += settled.charge;
      this.feesMicros += settled.fee;
      add(this.byTenant, rec.job.tenant, settled.charge);
      add(this.byClass, flexibilityClass(rec.job), settled.charge);
      add(this.byJob, rec.jobIndex, settled.charge);
    });
  }

  static toMoney(micros: bigint): Money {
    return micros === 0n ? ZERO : new Money(micros.toString()).dividedBy(MICROS);
  }
}

function add<K>(map: Map<K, bigint>, key: K, value: bigint): void {
  map.set(key, (map.get(key) ?? 0n) + value);
}
