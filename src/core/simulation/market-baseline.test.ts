import { describe, expect, it } from 'vitest';
import { clearRound } from '../clearing/clear-round.js';
import { Money } from '../money/money.js';
import { simulate } from './engine.js';
import { MarketScheduler } from './market-scheduler.js';
import { computeMetrics } from './metrics.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';

const options = { solver: 'auto' as const, timeLimitMs: 5000, deterministic: true };

describe('market baseline through the real clearing core (hand-checked)', () => {
  it('lets a high non-preemptible bid displace a preemptible lease after its protection, with notice and requeue', async () => {
    // One 8-GPU node (reserve 1.00). P: preemptible, 8 GPUs, 2 h, bids 2.00, arrives at 0.
    // F: non-preemptible, 8 GPUs, 30 min, bids 5.00, arrives at 900 (P is protected until 600).
    const w = workload(
      [node('n1')],
      [
        job('P', 'flex', 0, 8, 7200, {
          preemptible: true,
          offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }],
        }),
        job('F', 'now', 900, 8, 1800),
      ],
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
    expect(m.reconciliation.balanced).toBe(true);
    expect(new Money(m.fees).plus(m.payouts).toFixed(6)).toBe(new Money(m.charges).plus(m.uplift).toFixed(6));
    // Nobody pays more than they bid, nor less than the reserve (up to the six-decimal rounding of
    // each one-minute charge: 8 GPUs x 60 s at 1.00 is 0.133333, i.e. 0.999998 per GPU-hour).
    const pricePaid = (c: 'preemptible_now' | 'fixed_now') => new Money(m.pricePerGpuHour[c]!).toDecimalPlaces(4);
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
        job('P', 'flex', 0, 4, 7200, {
          preemptible: true,
          offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }],
        }),
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
        job('late', 'b', 0, 8, 1800, {
          preemptible: true,
          window: { notBefore: 0, deadline: 3600 },
          offers: [{ gpuModel: 'H100', maxPrice: new Money('1.50') }],
        }),
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
    const w = workload(
      [node('n1')],
      [job('low', 'a', 0, 1, 600, { offers: [{ gpuModel: 'H100', maxPrice: new Money('0.50') }] })],
      3600,
    );
    const run = await simulate(w, w.nodes, new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch)));
    expect(run.outcome).toEqual(['waiting']);
    expect(computeMetrics(w, run).charges).toBe('0.000000');
  });
});

describe('node prices, uplift and paradoxical rejections (hand-checked)', () => {
  it("passes the core's node prices to settlement: a gang pays at most its limit, the providers their node prices, the market the difference", async () => {
    // Two 4-GPU nodes (reserve 1.00), one block. G: 8 GPUs on the block, 30 min, limit 2.00;
    // S: 1 GPU, 10 min, limit 3.00. At t=0 G wins (welfare 8 x 1.00 against S's 2.00). The core
    // may price that round two ways: keep S out (both nodes at 3.00, G capped at 2.00 and the
    // market pays 1.00 per GPU-hour of uplift), or keep G's nodes at a mean of 2.00 and list S as
    // paradoxically rejected. Either way G pays 2.00 for that minute, and the report must carry
    // whichever the core chose, to the micro-unit. From the next round G is a fixed lease: its
    // GPUs are not contestable, but S still waits for them, so both nodes are priced at what G
    // can pay, 2.00 each (scarcity, no uplift), and fall to the reserve once G has ended.
    const w = workload(
      [node('n1', 4), node('n2', 4)],
      [
        job('G', 'gang', 0, 8, 1800, {
          contiguity: 'block',
          offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }],
        }),
        job('S', 'single', 0, 1, 600, { offers: [{ gpuModel: 'H100', maxPrice: new Money('3.00') }] }),
      ],
      3600,
    );
    let first: Awaited<ReturnType<typeof clearRound>> | null = null;
    const recording: typeof clearRound = async (snapshot, o) => {
      const result = await clearRound(snapshot, o);
      first ??= result;
      return result;
    };
    const run = await simulate(w, w.nodes, new MarketScheduler(recording, w.params, options, Date.parse(w.epoch)));
    expect(Array.from(run.firstStart)).toEqual([0, 1800]);
    const round0 = first!;
    const placed = round0.placements.find((p) => p.bidId === 'G')!;
    expect(placed.unitPrice.toFixed(6)).toBe('2.000000');
    // The price series is the pool index; the VWAP beside it is what G paid: 2.00 while S waits.
    const index = [...run.series.prices.values()][0];
    const vwap = [...run.series.vwap.values()][0];
    expect([index[0], vwap[0], index[1], vwap[1]]).toEqual([round0.prices[0].price.toNumber(), 2, 2, 2]);
    const m = computeMetrics(w, run);
    // G: 8 GPUs x 60 s at 2.00 = 0.266667 in the first minute, then 29 minutes at 2.00 on each
    // node, each node's share rounded (2 x 0.133333 a minute); S: 10 minutes at the 1.00 reserve.
    expect(m.spendByTenant).toEqual({ gang: '7.999981', single: '0.166670' });
    // The uplift is G's first minute: (mean node price - 2.00) x 8 GPUs x 60 s, to the micro-unit.
    const expectedUplift = placed.uplift.times(8).dividedBy(60);
    expect(new Money(m.uplift).minus(expectedUplift).abs().lessThanOrEqualTo('0.000001')).toBe(true);
    expect(m.reconciliation.balanced).toBe(true);
    expect(m.reconciliation.chargesPlusUplift).toBe(new Money('8.166651').plus(m.uplift).toFixed(6));
    // S lost every round until G ended (30 bid-rounds); the core's list, counted once per round.
    expect(m.paradoxicalRejections).toMatchObject({
      losers: 30,
      count: new Set(round0.paradoxicallyRejected.map((p) => p.bidId)).size,
    });
  });

  it('counts the bids the core lists as paradoxically rejected, once per bid and round, over the losers', async () => {
    const w = workload([node('n1')], [job('A', 'a', 0, 8, 600), job('B', 'b', 0, 8, 120)], 300);
    // The core's list, as a round file would carry it: B twice (two offers) in the first round.
    const listing: typeof clearRound = async (snapshot, o) => {
      const result = await clearRound(snapshot, o);
      if (snapshot.roundId !== 'r-000000') return result;
      const entry = { bidId: 'B', gpuModel: 'H100', reason: 'indivisible' as const, cheapestPrice: new Money('1.00') };
      return { ...result, paradoxicallyRejected: [entry, { ...entry, gpuModel: 'A100' }] };
    };
    const run = await simulate(w, w.nodes, new MarketScheduler(listing, w.params, options, Date.parse(w.epoch)));
    const m = computeMetrics(w, run);
    // B loses in each of the five rounds while A runs: 5 losers, one of them listed.
    expect(m.paradoxicalRejections).toEqual({ losers: 5, count: 1, share: 0.2, byReason: { indivisible: 1 } });
    expect(run.pricing!.unitPriceMismatches).toBe(0);
  });
});

describe('flexible work and the price it pays (hand-checked)', () => {
  it('a windowed preemptible bid waits out the congested hours and runs in the trough at the reserve', async () => {
    // One 8-GPU node, reserve 0.30. All three bids want the whole node and arrive at 0:
    // F (fixed, 1 h, 3.00) and G (fixed, 30 min, 2.00) must start now; W (preemptible, 30 min
    // within the next 3 h, 0.50) can wait. F wins first, and the first round's price is G's 2.00
    // (the best bid turned away). When F ends at 1 h, G wins over W. When G ends at 1.5 h, W has
    // the node to itself: nothing is turned away and the price is the 0.30 reserve.
    const cheap = { reservePrice: new Money('0.30') };
    const w = workload(
      [node('n1', 8, cheap)],
      [
        job('F', 'a', 0, 8, 3600, { offers: [{ gpuModel: 'H100', maxPrice: new Money('3.00') }] }),
        job('G', 'a', 0, 8, 1800, { offers: [{ gpuModel: 'H100', maxPrice: new Money('2.00') }] }),
        job('W', 'b', 0, 8, 1800, {
          preemptible: true,
          window: { notBefore: 0, deadline: 3 * 3600 },
          offers: [{ gpuModel: 'H100', maxPrice: new Money('0.50') }],
        }),
      ],
      3 * 3600,
    );
    const run = await simulate(w, w.nodes, new MarketScheduler(clearRound, w.params, options, Date.parse(w.epoch)));
    expect(Array.from(run.firstStart)).toEqual([0, 3600, 5400]);
    expect(run.outcome).toEqual(['completed', 'completed', 'completed']);
    expect([...run.series.prices.values()][0][0]).toBe(2);
    // F paid the node price, 2.00, under its 3.00 limit: no uplift anywhere in this run.
    expect(computeMetrics(w, run).uplift).toBe('0.000000');
    const m = computeMetrics(w, run);
    // W ran its 4 GPU-hours in the trough: all of them at the reserve, well under its 0.50 limit.
    expect(m.pricePerGpuHour.preemptible_window).toBe('0.30');
    expect(m.byClass!.preemptible_window.reserveShare).toBe(1);
    expect(m.byClass!.preemptible_window.meanLimit).toBeCloseTo(0.5, 9);
    expect(m.deadlineHitRate).toBe(1);
    expect(m.preemptions).toBe(0);
  });
});

describe('reproducibility notes', () => {
  it('lists the rounds whose clearing was cut short by its time limit', async () => {
    const w = workload([node('n1')], [job('A', 'a', 0, 8, 600), job('B', 'a', 60, 8, 600)], 600);
    // The second round ran past its limit, as the core reports in stats.cutShort.
    const slow: typeof clearRound = async (snapshot, o) => {
      const result = await clearRound(snapshot, o);
      return snapshot.roundId === 'r-000001' ? { ...result, stats: { ...result.stats, cutShort: true } } : result;
    };
    const scheduler = new MarketScheduler(slow, w.params, { solver: 'auto', timeLimitMs: 50 }, Date.parse(w.epoch));
    const run = await simulate(w, w.nodes, scheduler);
    expect(scheduler.roundsAtTimeLimit).toEqual(['r-000001']);
    expect(run.roundsAtTimeLimit).toEqual([1]);
  });
});

describe('pooling, end to end (hand-checked)', () => {
  it('two tenants whose peaks do not overlap need one node pooled and two dedicated', async () => {
    const { runSimulation } = await import('./run-simulation.js');
    // a uses 8 GPUs for the first hour, b for the second; the shared fleet offered has 2 nodes.
    const w = workload([node('n1'), node('n2')], [job('a1', 'a', 0, 8, 3600), job('b1', 'b', 3600, 8, 3600)], 3 * 3600);
    const { report } = await runSimulation(w, { seed: 1, clear: clearRound, clearOptions: options, capacitySteps: 3 });
    // Fleet size in money too: 8 GPUs at 1.00 $/h reserve against dedicated's 16.
    expect(report.claims.pooling).toEqual({
      dedicatedGpus: 16,
      marketGpus: 8,
      saving: 0.5,
      atLeast20Percent: true,
      dedicatedCostPerHour: 16,
      marketCostPerHour: 8,
      costSaving: 0.5,
    });
    expect(report.baselines.map((b) => b.baseline)).toEqual(['dedicated', 'fifo', 'priority', 'market']);
    expect(report.baselines.map((b) => b.capacityNeededGpus)).toEqual([16, 8, 8, 8]);
    const market = report.baselines[3];
    expect(market.p95WaitNowSeconds).toBe(0);
    expect(market.gpuHoursServed).toBe(16);
    // Every shared baseline ran in full on the scenario's 16 GPUs and on the 8 each needs; each
    // delivers both jobs on time: 2 x 8 GPU-hours x 5.00 = 80.
    expect(report.equalFleet.map((f) => [f.gpus, f.sizedFor])).toEqual([
      [8, ['fifo', 'priority', 'market']],
      [16, []],
    ]);
    for (const fleet of report.equalFleet) for (const b of fleet.baselines) expect(b.valueDelivered).toBe('80.000000');
    expect(report.claims.value).toEqual({ atScenarioFleet: 1, atPrioritySizedFleet: 1, atLeast20PercentMore: false });
    expect(report.verdict.find((v) => v.goal.startsWith('Pooling'))).toMatchObject({
      measured: '8.00 / 16.00 = 50.0%',
      met: true,
    });
  });
});
