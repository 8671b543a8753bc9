import { describe, expect, it } from 'vitest';
import { chargeToMoney, DIURNAL_H100_INDEX_BY_UTC_HOUR, marketClock, type ReplicaMarket } from './services-market.js';

const HOUR = 3_600_000;
/** Replay time 0 is 10:00 UTC: index 0.52, then 1.30 from 11:00 to 13:59, 0.80 from 14:00. */
const market: ReplicaMarket = {
  epoch: '2023-11-16T10:00:00.000Z',
  indexByUtcHour: DIURNAL_H100_INDEX_BY_UTC_HOUR,
  maxPrice: '1.50',
  gpusPerReplica: 1,
  roundSeconds: 60,
  fastRoundSeconds: 2,
};
const clock = marketClock(market);

describe('the services market clock', () => {
  it.each([
    [0, 520_000],
    [HOUR - 1, 520_000],
    [HOUR, 1_300_000],
    [4 * HOUR, 800_000],
    [14 * HOUR, 310_000],
  ])('the pool index at %i ms is %i micro-units', (t, micros) => {
    expect(clock.indexAt(t)).toBe(micros);
  });

  it.each([
    // rank, minReplicas, limit: the first max(min, 1) replicas bid the full limit, then x 0.9 per rank.
    [1, 0, 1_500_000],
    [2, 0, 1_350_000],
    [3, 0, 1_215_000],
    [3, 3, 1_500_000],
    [4, 3, 1_350_000],
  ])('replica %i with minReplicas %i bids %i micro-units', (rank, min, limit) => {
    expect(clock.limit(rank, min)).toBe(limit);
  });

  it.each([
    { name: 'wins at once when its limit covers the index', from: HOUR + 2000, limit: 1_350_000, win: HOUR + 2000 },
    { name: 'waits for the first round of a cheaper hour', from: HOUR + 2000, limit: 1_215_000, win: 4 * HOUR },
    { name: 'never wins before the end', from: HOUR + 2000, limit: 1_215_000, until: 3 * HOUR, win: null },
    {
      name: 'that lost its fast round wins the next scheduled round',
      from: 4 * HOUR - 30_000,
      limit: 900_000,
      win: 4 * HOUR,
    },
  ])('a bid $name', ({ from, limit, until, win }) => {
    expect(clock.firstWin(from, limit, until ?? 20 * HOUR)).toBe(win);
  });

  it('charges min(limit, index) per GPU-hour across an hour boundary, exactly', () => {
    // 30 min at 0.52 + 30 min at min(1.35, 1.30).
    const charge = clock.chargeMicroGpuMs(HOUR / 2, HOUR + HOUR / 2, 1_350_000);
    expect(chargeToMoney(charge).toFixed(6)).toBe('0.910000');
    // The limit caps it: 1 h at min(1.215, 1.30).
    expect(chargeToMoney(clock.chargeMicroGpuMs(HOUR, 2 * HOUR, 1_215_000)).toFixed(6)).toBe('1.215000');
    // A third of a second at 0.52: 0.52 / 10800 = 0.0000481481..., rounded half-even to 6 places.
    expect(chargeToMoney(clock.chargeMicroGpuMs(0, 333, 1_500_000)).toFixed(6)).toBe('0.000048');
  });
});
