import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { dedicatedFleet, serviceTarget, targetChecks } from './capacity.js';
import { simulate } from './engine.js';
import { FirstFitScheduler } from './first-fit-scheduler.js';
import { computeMetrics, valueDelivered } from './metrics.js';
import { PriorityScheduler } from './priority-scheduler.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';

const fifo = (nodes: readonly ReturnType<typeof node>[]) => new FirstFitScheduler('fifo', 'list', nodes);

describe('metric definitions (hand-computed tiny cases)', () => {
  it('counts preemptions per hour run by preemptible jobs, the only ones that can be preempted', async () => {
    // P (preemptible, 2 h) is preempted once by F (fixed, 600 s): P runs 7200 s in all, F 600 s.
    const w = workload(
      [node('n1')],
      [job('P', 't', 0, 8, 7200, { preemptible: true }), job('F', 't', 900, 8, 600)],
      4 * 3600,
    );
    const run = await simulate(w, w.nodes, new PriorityScheduler(w.nodes, 120));
    const m = computeMetrics(w, run);
    expect(m.preemptions).toBe(1);
    expect(m.preemptionsPerPreemptibleJobHour).toBe(1 / 2);
    // The old figure divided by all hours run, fixed work's included: 1 / (7800 / 3600).
    expect(m.preemptionsPerJobHour).toBeCloseTo(3600 / 7800, 12);
  });

  it('measures deadline hits over every windowed job: the run drains past the horizon until the last deadline', async () => {
    // Horizon 1 h. W arrives at 3000 s needing 30 min by 7200 s: due after the horizon, it used to
    // be left out. X's window (deadline 2400 s) cannot be met: A holds the node until 3600 s.
    const jobs = [
      job('A', 't', 0, 8, 3600),
      job('X', 't', 60, 8, 600, { window: { notBefore: 60, deadline: 2400 } }),
      job('W', 't', 3000, 8, 1800, { window: { notBefore: 3000, deadline: 7200 } }),
    ];
    const w = workload([node('n1')], jobs, 3600);
    const run = await simulate(w, w.nodes, new PriorityScheduler(w.nodes, 120));
    expect(run.endSeconds).toBe(5400); // W done at 5400; nothing left to run, so the drain stops there
    expect(Array.from(run.completedAt)).toEqual([3600, NaN, 5400]);
    const m = computeMetrics(w, run);
    expect([m.deadlineHits, m.windowedJobsDue, m.deadlineHitRate]).toEqual([1, 2, 0.5]);
    expect(m.jobsExpired).toBe(1);
    // Served GPU-hours and utilisation are still cut at the horizon: A's 8 GPU-hours only.
    expect(m.gpuHoursServed).toBe(8);
    expect(m.utilisation).toBe(1);
    // Without the drain the run stops at the horizon and W is a miss (open when the run ends).
    const cut = computeMetrics(w, await simulate(w, w.nodes, new PriorityScheduler(w.nodes, 120), { drain: false }));
    expect([cut.deadlineHits, cut.windowedJobsDue]).toEqual([0, 2]);
  });

  it('checks the service target at p95 and at p99 wait, and on completion', async () => {
    // 24 GPUs; nineteen 1-GPU jobs and one 8-GPU node gang arrive at 0. First-fit gives the small
    // ones n1, n2 and 3 GPUs of n3, so the gang waits for the first 1-GPU job to end at 600 s...
    // on n3, which frees 1 GPU: it needs a whole node, so it waits until n1 or n2 empties at 600 s.
    const small = Array.from({ length: 19 }, (_, k) => job(`s${String(k).padStart(2, '0')}`, 't', 0, 1, 600));
    const w = workload([node('n1'), node('n2'), node('n3')], [...small, job('zgang', 't', 0, 8, 600)], 3600);
    const m = computeMetrics(w, await simulate(w, w.nodes, fifo(w.nodes)));
    // quantile q of 20 waits is the ceil(20 q)-th smallest: p95 the 19th (0), p99 the 20th (600).
    expect([m.p95WaitNowSeconds, m.p99WaitNowSeconds, m.maxWaitNowSeconds]).toEqual([0, 600, 600]);
    expect(m.completionRate).toBe(1);
    const target = {
      p95WaitNowSeconds: 60,
      p99WaitNowSeconds: 60,
      deadlineHitRate: null,
      gpuHoursServed: m.gpuHoursServed,
      completionRate: 1,
    };
    expect(targetChecks(m, target).map((c) => [c.goal, c.met])).toEqual([
      ['p95 wait without a window (s) <=', true],
      ['p99 wait without a window (s) <=', false],
      ['jobs completed >=', true],
      ['GPU-hours served in the horizon >=', true],
    ]);
    expect(serviceTarget(m, 60)).toEqual({
      p95WaitNowSeconds: 60,
      p99WaitNowSeconds: 600,
      deadlineHitRate: null,
      gpuHoursServed: m.gpuHoursServed,
      completionRate: 1,
    });
  });

  it('values work done inside its window, or without a window when it waited no longer than the target, and surplus = value - charges', async () => {
    // FIFO ignores deadlines: W (8 GPUs, 1 h, limit 5.00) runs 0..3600 but its deadline is 1800:
    // only the first half hour counts: 8 x 0.5 x 5.00 = 20. N (2 GPUs, limit 3.00) waits 3600 s for
    // the node, longer than a 60 s target: worth nothing. M (no window, 30 min, arrives at 3600)
    // starts at once: 8 x 0.5 x 5.00 = 20.
    const jobs = [
      job('W', 't', 0, 8, 3600, { window: { notBefore: 0, deadline: 1800 } }),
      job('N', 't', 60, 2, 600, { offers: [{ gpuModel: 'H100', maxPrice: new Money('3.00') }] }),
      job('M', 't', 3660, 6, 1800),
    ];
    const w = workload([node('n1')], jobs, 3 * 3600);
    const run = await simulate(w, w.nodes, fifo(w.nodes));
    expect(Array.from(run.firstStart)).toEqual([0, 3600, 3660]);
    expect(valueDelivered(w, run, 60).total.toFixed(2)).toBe('35.00'); // 20 + 0 + 6 x 0.5 x 5.00
    const m = computeMetrics(w, run, 60);
    // Charges at the 1.00 reserve: 8 + 2 x 600/3600 + 6 x 0.5 = 11.333333 (settled per minute).
    expect(m.value).toMatchObject({ waitTargetSeconds: 60, delivered: '35.000000' });
    expect(new Money(m.value!.surplus).plus(m.charges).toFixed(6)).toBe('35.000000');
    // With a target the wait meets, N counts too: + 2 x 600/3600 x 3.00 = 1.
    expect(valueDelivered(w, run, 3600).total.toFixed(2)).toBe('36.00');
  });

  it("shapes dedicated nodes by each tenant's own gangs: an 8-GPU gang is never sized onto 2-GPU nodes", () => {
    const fleet = [
      node('t4-small', 2, { gpuModel: 'T4' }),
      node('t4-big', 8, { gpuModel: 'T4' }),
      node('v100', 8, { gpuModel: 'V100' }),
    ];
    const t4 = { offers: [{ gpuModel: 'T4', maxPrice: new Money('1') }] };
    // Tenant a runs 1-GPU jobs only: its T4 nodes are the 2-GPU shape. Tenant b has an 8-GPU gang
    // that accepts the T4 first: it gets 8-GPU T4 nodes. Tenant c's 8-GPU gang accepts T4 then V100.
    const w = workload(
      fleet,
      [
        job('a1', 'a', 0, 1, 600, t4),
        job('a2', 'a', 0, 1, 600, t4),
        job('a3', 'a', 0, 1, 600, t4),
        job('b1', 'b', 0, 8, 600, t4),
        job('c1', 'c', 0, 8, 600, {
          offers: [
            { gpuModel: 'T4', maxPrice: new Money('1') },
            { gpuModel: 'V100', maxPrice: new Money('2') },
          ],
        }),
      ],
      3600,
    );
    const d = dedicatedFleet(w);
    const shape = (tenant: string) =>
      d.nodes.filter((_, i) => d.owner[i] === tenant).map((n) => `${n.gpuModel}x${n.gpus}`);
    expect(shape('a')).toEqual(['T4x2', 'T4x2']);
    expect(shape('b')).toEqual(['T4x8']);
    expect(shape('c')).toEqual(['T4x8']);
  });
});
