import { describe, expect, it } from 'vitest';
import { clearRound } from '../clearing/clear-round.js';
import { Money } from '../money/money.js';
import { simulate } from './engine.js';
import { MarketScheduler } from './market-scheduler.js';
import { computeMetrics } from './metrics.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';

const options = { solver: 'auto' as const, timeLimitMs: 5000 };

describe('market baseline through the real clearing core (hand-checked)', () => {
  it('lets a high non-preemptible bid displace a preemptible lease after its protection, with notice and requeue', async () => {
    // One 8-GPU node (reserve 1.00). P: preemptible, 8 GPUs, 2 h, bids 2.00, arrives at 0.
    // F: non-preemptible, 8 GPUs, 30 min, bids 5.00, arrives at 900 (P is protected until 600).
    const w = workload(
      [node('n1')],
      [job('P', 'flex', 0, 8, 7200, { preemptible: true, offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }] }), job('F', 'now', 900, 8, 1800)],
      4 * 3600,
    );
    const scheduler = new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch));
    const run = await simulate(w, w.nodes, scheduler);
    // F wins at 900, P gets 120 s of notice, F starts when it ends.
    expect(run.firstStart[1]).toBe(1020);
    expect(run.completedAt[1]).toBe(2820);
    expect(run.preemptions[0]).toBe(1);
    // P ran 1020 s, comes back with 6180 s to go, and wins the idle node at the next round.
    expect(run.completedAt[0]).toBe(2820 + 6180);
    expect(run.outcome).toEqual(['completed', 'completed']);
    const m = computeMetrics(w, run);
    expect(m.preemptions).toBe(1);
    expect(new Money(m.fees).plus(m.payouts).toFixed(6)).toBe(m.charges);
    // Nobody pays more than they bid, nor less than the reserve.
    const pricePaid = (c: 'preemptible_now' | 'fixed_now') => new Money(m.pricePerGpuHour[c]!);
    expect(pricePaid('preemptible_now').lessThanOrEqualTo(2)).toBe(true);
    expect(pricePaid('preemptible_now').greaterThanOrEqualTo(1)).toBe(true);
    expect(pricePaid('fixed_now').lessThanOrEqualTo(5)).toBe(true);
    expect(pricePaid('fixed_now').greaterThanOrEqualTo(1)).toBe(true);
  });

  it('lets a lease in its notice win its place back when GPUs beside its successor come free, as the service does', async () => {
    // One 8-GPU node (reserve 1.00). P: preemptible, 4 GPUs, 2 h, bids 2.00; Q: fixed, 4 GPUs, 660 s.
    // F (fixed, 4 GPUs, 5.00) arrives at 600, when P's protection ends: P gets notice until 720 and
    // F is allocated P's GPUs from 720. Q ends at 660, so at the 660 round P fits beside F again:
    // the round sees it (round-leases.ts), keeps it, and P runs on to its end without a restart.
    const w = workload(
      [node('n1')],
      [
        job('P', 'flex', 0, 4, 7200, { preemptible: true, offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }] }),
        job('Q', 'now', 0, 4, 660),
        job('F', 'now', 600, 4, 1800),
      ],
      3 * 3600,
    );
    const run = await simulate(w, w.nodes, new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch)));
    expect(run.preemptions[0]).toBe(1);
    expect(run.winBacks).toBe(1);
    expect(Array.from(run.firstStart)).toEqual([0, 0, 720]);
    expect(Array.from(run.completedAt)).toEqual([7200, 660, 2520]);
    // P paid every second it ran, and never more than its 2.00 limit.
    const m = computeMetrics(w, run);
    expect(m.gpuHoursServed).toBe(4 * 2 + (4 * 660) / 3600 + 4 * 0.5);
    expect(new Money(m.pricePerGpuHour.preemptible_now!).lessThanOrEqualTo(2)).toBe(true);
  });

  it('expires a windowed bid that is always outbid once its window can no longer fit', async () => {
    const w = workload(
      [node('n1')],
      [
        job('hog', 'a', 0, 8, 4 * 3600),
        job('late', 'b', 0, 8, 1800, { preemptible: true, window: { notBefore: 0, deadline: 3600 }, offers: [{ gpuModel: 'H100', maxPrice: new Money('1.50') }] }),
      ],
      2 * 3600,
    );
    const run = await simulate(w, w.nodes, new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch)));
    expect(run.outcome).toEqual(['running', 'expired']);
    const m = computeMetrics(w, run);
    expect(m.deadlineHitRate).toBe(0);
    expect(m.jobsExpired).toBe(1);
  });

  it('does not place a bid below the reserve, and charges nothing for it', async () => {
    const w = workload([node('n1')], [job('low', 'a', 0, 1, 600, { offers: [{ gpuModel: 'H100', maxPrice: new Money('0.50') }] })], 3600);
    const run = await simulate(w, w.nodes, new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch)));
    expect(run.outcome).toEqual(['waiting']);
    expect(computeMetrics(w, run).charges).toBe('0.000000');
  });
});

describe('pooling, end to end (hand-checked)', () => {
  it('two tenants whose peaks do not overlap need one node pooled and two dedicated', async () => {
    const { runSimulation } = await import('./run-simulation.js');
    // a uses 8 GPUs for the first hour, b for the second; the shared fleet offered has 2 nodes.
    const w = workload([node('n1'), node('n2')], [job('a1', 'a', 0, 8, 3600), job('b1', 'b', 3600, 8, 3600)], 3 * 3600);
    const { report } = await runSimulation(w, { seed: 1, clear: clearRound, clearOptions: options, capacitySteps: 3 });
    expect(report.claims.pooling).toEqual({ dedicatedGpus: 16, marketGpus: 8, saving: 0.5, atLeast20Percent: true });
    expect(report.baselines.map((b) => b.capacityNeededGpus)).toEqual([16, 8, 8]);
    const market = report.baselines[2];
    expect(market.p95WaitNowSeconds).toBe(0);
    expect(market.gpuHoursServed).toBe(16);
  });
});
