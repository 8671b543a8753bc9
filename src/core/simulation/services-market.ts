import { toMicros } from '../money/micros.js';
import { Money } from '../money/money.js';
import { replicaPrice } from '../services/replica-value.js';

/**
 * The market a service's replicas meet in the services scenario. The service is a price taker:
 * its few 1-GPU replicas do not move the pool's price, so the pool index (what the most flexible
 * 1-GPU bid pays there, docs/simulation.md "Prices in the report") is given as a series, and a
 * replica bid wins a round exactly when its limit is at least that round's index.
 *
 * The series: the H100 us-east pool index of `gpumarket simulate --scenario diurnal` (seed 1),
 * the mean per UTC hour as docs/simulation.md tabulates it; constant within an hour.
 */
export const DIURNAL_H100_INDEX_BY_UTC_HOUR: readonly string[] = [
  '0.31', // 00
  ...Array<string>(5).fill('0.30'), // 01-05
  ...Array<string>(4).fill('0.30'), // 06-09
  '0.52', // 10
  ...Array<string>(3).fill('1.30'), // 11-13
  ...Array<string>(3).fill('0.80'), // 14-16
  ...Array<string>(5).fill('0.48'), // 17-21
  '0.35', // 22
  '0.35', // 23
];

const HOUR_MS = 3_600_000;

export interface ReplicaMarket {
  /** ISO-8601 UTC instant of replay time 0 (the index is by UTC hour of day). */
  readonly epoch: string;
  /** 24 decimal strings per GPU-hour, index by UTC hour. */
  readonly indexByUtcHour: readonly string[];
  /** The service's limit per GPU-hour for its first replicas (replica-value.ts decays it above them). */
  readonly maxPrice: string;
  readonly gpusPerReplica: number;
  /** Seconds between scheduled rounds: a bid that lost tries again at the next one. */
  readonly roundSeconds: number;
  /** Bid recorded -> the fast round it triggers has committed a lease (docs/services.md "The fast path"). */
  readonly fastRoundSeconds: number;
}

export interface MarketClock {
  /** A new bid's fast round commits this long after the bid (ms). */
  readonly fastRoundMs: number;
  /** Index in micro-units per GPU-hour at replay time `t` (ms). */
  indexAt(t: number): number;
  /** Start of the next UTC hour after `t` (ms, replay time): where the index may change. */
  nextChange(t: number): number;
  /** The limit (micro-units per GPU-hour) replica `rank` bids under a service floor of `minReplicas`. */
  limit(rank: number, minReplicas: number): number;
  /** The first round at or after `from` that a bid with this limit wins, or null if none before `until`. */
  firstWin(from: number, limitMicros: number, until: number): number | null;
  /** What a lease with this limit pays from `start` to `end` (ms): sum of min(limit, index) micros x GPU-ms. */
  chargeMicroGpuMs(start: number, end: number, limitMicros: number): bigint;
}

export function marketClock(market: ReplicaMarket): MarketClock {
  if (market.indexByUtcHour.length !== 24) throw new RangeError('indexByUtcHour needs 24 prices');
  const index = market.indexByUtcHour.map((p) => toMicros(new Money(p)));
  const epochMs = Date.parse(market.epoch);
  if (Number.isNaN(epochMs)) throw new RangeError(`epoch "${market.epoch}" is not a date`);
  const indexAt = (t: number) => index[new Date(epochMs + t).getUTCHours()];
  const nextChange = (t: number) => Math.floor((epochMs + t) / HOUR_MS + 1) * HOUR_MS - epochMs;
  const roundMs = market.roundSeconds * 1000;
  const maxPrice = new Money(market.maxPrice);
  return {
    fastRoundMs: market.fastRoundSeconds * 1000,
    indexAt,
    nextChange,
    limit: (rank, minReplicas) => toMicros(replicaPrice(maxPrice, rank, minReplicas)),
    firstWin(from, limitMicros, until) {
      // The bid's own fast round first, then every scheduled round (multiples of roundSeconds).
      for (let t = from; t < until; t = Math.floor(t / roundMs + 1) * roundMs) {
        if (indexAt(t) <= limitMicros) return t;
        // Nothing changes before the next hour: skip the rounds in between.
        const change = nextChange(t);
        if (change - t > roundMs) t = Math.ceil(change / roundMs) * roundMs - roundMs;
      }
      return null;
    },
    chargeMicroGpuMs(start, end, limitMicros) {
      let total = 0n;
      for (let t = start; t < end;) {
        const next = Math.min(end, nextChange(t));
        total += BigInt(Math.min(limitMicros, indexAt(t))) * BigInt((next - t) * market.gpusPerReplica);
        t = next;
      }
      return total;
    },
  };
}

/** Micro-unit GPU-milliseconds as money, rounded half-even to the ledger's 6 decimals. */
export function chargeToMoney(microGpuMs: bigint): Money {
  return new Money(microGpuMs.toString()).dividedBy(1_000_000).dividedBy(HOUR_MS).toDecimalPlaces(6);
}
