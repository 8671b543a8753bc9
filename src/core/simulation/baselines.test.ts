import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import {
  dedicatedFleet,
  meetsTarget,
  peakDemand,
  scaleFleet,
  searchCapacity,
  serviceTarget,
  targetStopRule,
  type ProbeRun,
} from './capacity.js';
import { simulate } from './engine.js';
import { FirstFitScheduler } from './first-fit-scheduler.js';
import { computeMetrics } from './metrics.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';

// One 8-GPU node for 3 hours. A (tenant t1) takes the whole node for an hour from t=0;
// B and C (tenant t2), 4 GPUs for 30 minutes each, arrive at 30 s and 60 s.
const tiny = () =>
  workload(
    [node('n1')],
    [
      job('A', 't1', 0, 8, 3600),
      job('B', 't2', 30, 4, 1800, { window: { notBefore: 30, deadline: 3630 } }),
      job('C', 't2', 60, 4, 1800),
    ],
    3 * 3600,
  );

describe('FIFO shared pool (hand-checked)', () => {
  it('runs A at once and B and C when A ends at 1 h; no prices, list price paid per GPU-hour run', async () => {
    const w = tiny();
    const run = await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes));
    expect(Array.from(run.firstStart)).toEqual([0, 3600, 3600]);
    expect(Array.from(run.completedAt)).toEqual([3600, 5400, 5400]);
    const m = computeMetrics(w, run);
    // 8 x 1 h + 2 x 4 x 0.5 h = 12 GPU-hours of 8 x 3 = 24
    expect(m.gpuHoursServed).toBe(12);
    expect(m.utilisation).toBe(0.5);
    expect(m.meanWaitSeconds).toBe((0 + 3570 + 3540) / 3);
    // B's window closed at 3630 but it finished at 5400: FIFO knows no deadlines.
    expect(m.deadlineHitRate).toBe(0);
    expect(m.preemptions).toBe(0);
    // 12 GPU-hours at the 1.00 reserve; 10% fee.
    expect([m.charges, m.fees, m.payouts]).toEqual(['12.000000', '1.200000', '10.800000']);
    // Settled per one-minute period at six decimals (half-even): A pays 0.133333 a minute
    // (7.999980 in all) and C 0.066667 (2.000010), so A and C together pay 0.999999 per GPU-hour
    // (prices and means are shown to six places, as unit prices now carry them).
    expect(m.pricePerGpuHour.fixed_now).toBe('0.999999');
    // List pricing: each node's reserve is its price and no cap binds, so there is no uplift.
    expect(m.uplift).toBe('0.000000');
    expect(m.reconciliation).toEqual({ chargesPlusUplift: '12.000000', payoutsPlusFees: '12.000000', balanced: true });
    expect(m.paradoxicalRejections).toBeNull();
  });

  it('passes over a gang that does not fit so that a smaller job behind it can start', async () => {
    const w = workload(
      [node('n1')],
      [job('A', 't', 0, 4, 3600), job('big', 't', 10, 8, 600), job('small', 't', 20, 4, 600)],
      7200,
    );
    const run = await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes));
    expect(Array.from(run.firstStart)).toEqual([0, 3600, 60]);
  });

  it('never splits a node-contiguous gang across nodes, and does split a block gang', async () => {
    const nodes = [node('n1', 4), node('n2', 4)];
    const w = workload(
      nodes,
      [job('node-gang', 't', 0, 8, 600), job('block-gang', 't', 0, 8, 600, { contiguity: 'block' })],
      3600,
    );
    const run = await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes));
    expect(run.outcome).toEqual(['waiting', 'completed']);
  });
});

describe('dedicated reservations (hand-checked)', () => {
  it("sizes each tenant's own nodes for its own peak", () => {
    const w = tiny();
    expect(
      peakDemand(
        w.jobs.filter((j) => j.tenant === 't2'),
        w.horizonSeconds,
      ).get('H100'),
    ).toBe(8);
    const fleet = dedicatedFleet(w);
    expect(fleet.owner).toEqual(['t1', 't2']);
    expect(fleet.nodes.map((n) => n.gpus)).toEqual([8, 8]);
  });

  it('runs every job at its first round on its own tenant nodes and charges owned capacity whether used or not', async () => {
    const w = tiny();
    const fleet = dedicatedFleet(w);
    const run = await simulate(
      w,
      fleet.nodes,
      new FirstFitScheduler('dedicated', 'reserved', fleet.nodes, fleet.owner),
      { nodeOwner: fleet.owner },
    );
    expect(Array.from(run.firstStart)).toEqual([0, 60, 60]);
    const m = computeMetrics(w, run);
    expect(m.gpus).toBe(16);
    expect(m.utilisation).toBe(12 / 48);
    expect(m.deadlineHitRate).toBe(1);
    // each tenant pays 8 GPUs x 3 h x 1.00
    expect(m.spendByTenant).toEqual({ t1: '24.000000', t2: '24.000000' });
    // Reservations are not charged per period: no fee, no uplift, the providers get it all.
    expect([m.charges, m.uplift, m.fees, m.payouts]).toEqual(['48.000000', '0.000000', '0.000000', '48.000000']);
    // A (t1) carries all 24 of t1's cost over 8 GPU-hours; C carries half of t2's 24 (it ran
    // half of t2's GPU-hours) over 2 GPU-hours: (24 + 12) / 10 = 3.60 per GPU-hour used.
    expect(m.pricePerGpuHour.fixed_now).toBe('3.60');
    expect(m.pricePerGpuHour.fixed_window).toBe('6.00');
  });
});

describe('capacity', () => {
  it('scales a fleet per pool, rounding up and never below one node', () => {
    const nodes = [node('a1'), node('a2'), node('a3'), node('b1', 8, { gpuModel: 'A100' })];
    expect(scaleFleet(nodes, 0.5).map((n) => n.id)).toEqual(['a1', 'a2', 'b1']);
    expect(scaleFleet(nodes, 0.01).map((n) => n.id)).toEqual(['a1', 'b1']);
    const grown = scaleFleet(nodes, 2);
    expect(grown).toHaveLength(8);
    expect(new Set(grown.map((n) => n.id)).size).toBe(8);
  });

  it('holds a shared fleet to the dedicated service level: p95 wait of work without a window, deadlines, GPU-hours', async () => {
    const w = tiny();
    const fleet = dedicatedFleet(w);
    const dedicated = computeMetrics(
      w,
      await simulate(w, fleet.nodes, new FirstFitScheduler('dedicated', 'reserved', fleet.nodes, fleet.owner), {
        nodeOwner: fleet.owner,
      }),
    );
    const target = serviceTarget(dedicated, 60);
    expect(target.p95WaitNowSeconds).toBe(60);
    const fifo = computeMetrics(w, await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes)));
    expect(meetsTarget(fifo, target)).toBe(false);
    expect(meetsTarget(dedicated, target)).toBe(true);
    expect(new Money(fifo.charges).greaterThan(0)).toBe(true);
  });

  it('stops a probe as soon as the target is out of reach, and not before', async () => {
    // Target: p95 wait of jobs without a window <= 60 s, all deadlines met. On one 8-GPU node, FIFO
    // makes C (no window, arrives at 60 s) wait for A until 3600 s. With two jobs without a window
    // (A and C), one late job already breaks the p95, and C is known to be late once it has waited
    // more than 60 s: at the 180 s round, round 3.
    const w = tiny();
    const target = {
      p95WaitNowSeconds: 60,
      p99WaitNowSeconds: 60,
      deadlineHitRate: 1,
      gpuHoursServed: 12,
      completionRate: 1,
    };
    const run = await simulate(w, w.nodes, new FirstFitScheduler('fifo', 'list', w.nodes), {
      stop: targetStopRule(w, target),
    });
    expect(run.stoppedAt).toBe(3);
    // Two nodes serve everyone at once: the rule never fires and the run ends at the horizon.
    const two = [node('n1'), node('n2')];
    const full = await simulate(w, two, new FirstFitScheduler('fifo', 'list', two), {
      stop: targetStopRule(w, target),
    });
    expect(full.stoppedAt).toBeNull();
    expect(meetsTarget(computeMetrics(w, full), target)).toBe(true);
  });

  it('bisects the fleet size, reuses the fleet already run and never probes one fleet twice', async () => {
    const base = [node('n1'), node('n2'), node('n3'), node('n4')];
    const metricsFor = (gpus: number) =>
      ({
        p95WaitNowSeconds: gpus >= 24 ? 0 : 3600,
        p99WaitNowSeconds: gpus >= 24 ? 0 : 3600,
        deadlineHitRate: 1,
        gpuHoursServed: 10,
        completionRate: 1,
      }) as never;
    const probed: number[] = [];
    const evaluate = async (nodes: typeof base): Promise<ProbeRun> => {
      probed.push(nodes.length * 8);
      return { metrics: metricsFor(nodes.length * 8), stoppedAtHour: null };
    };
    const target = {
      p95WaitNowSeconds: 60,
      p99WaitNowSeconds: 60,
      deadlineHitRate: 1,
      gpuHoursServed: 10,
      completionRate: 1,
    };
    // The scenario's own 32 GPUs (factor 1) met the target, so the search starts below it.
    const result = await searchCapacity(
      base,
      evaluate,
      target,
      { low: 0.25, high: 2, steps: 4 },
      { factor: 1, metrics: metricsFor(32) },
    );
    expect(result.gpus).toBe(24);
    expect(probed).toEqual([16, 24]);
    expect(result.probes.map((p) => [p.gpus, p.met])).toEqual([
      [16, false],
      [24, true],
    ]);
  });
});
