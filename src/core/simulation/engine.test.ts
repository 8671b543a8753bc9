import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { poolKey } from '../market/types.js';
import { simulate } from './engine.js';
import type { RoundDecision, Scheduler, SchedulerView } from './scheduler.js';
import { computeMetrics } from './metrics.js';
import { job, node, workload } from './sim-fixtures.test-helpers.js';

/**
 * A scheduler that follows a script, one entry per round, so the engine's own rules (notice,
 * hand-over, requeue, settlement) can be checked by hand without depending on how the
 * clearing core would decide.
 */
class ScriptedScheduler implements Scheduler {
  readonly name = 'scripted';
  readonly charging = 'clearing' as const;
  readonly honoursDeadlines = true;
  readonly views: SchedulerView[] = [];
  constructor(private readonly script: (view: SchedulerView) => Partial<RoundDecision>) {}
  decide(view: SchedulerView): RoundDecision {
    this.views.push(view);
    const d = this.script(view);
    return {
      placements: d.placements ?? [],
      preempt: d.preempt ?? [],
      repricing: d.repricing,
      prices: d.prices ?? new Map([[poolKey('H100', 'r'), new Money('2.00')]]),
      solveMs: 0,
    };
  }
}

const whole = (jobIndex: number, limit = '5.00') => ({
  jobIndex,
  gpuModel: 'H100',
  shares: [{ node: 0, gpus: 8 }],
  limit: new Money(limit),
});

describe('simulator engine: lease lifecycle in virtual time', () => {
  it('gives a preempted lease its notice, hands its GPUs over when the notice ends and requeues its remaining run time', async () => {
    // P (preemptible, 1 h) starts at 0; F (fixed) arrives at 600 and takes the node at 660 once P is
    // past its 600 s protection. P stops at 660 + 120 = 780, F starts then; P comes back with 3600 - 780 s.
    const w = workload(
      [node('n1')],
      [job('P', 't', 0, 8, 3600, { preemptible: true }), job('F', 't', 600, 8, 1200)],
      4 * 3600,
    );
    const scheduler = new ScriptedScheduler((view) => {
      if (view.now === 0) return { placements: [whole(0, '1.00')] };
      if (view.now === 660) return { preempt: [view.leases[0].record.id], placements: [whole(1)] };
      if (view.now >= 780 + 1200 && view.open.length > 0 && view.leases.length === 0)
        return { placements: [whole(0, '1.00')] };
      return {};
    });
    const run = await simulate(w, w.nodes, scheduler);
    expect(run.firstStart[1]).toBe(780); // F waited for the notice to end
    expect(run.preemptions[0]).toBe(1);
    // F runs 780..1980; P is placed again at the first round after that (1980) and needs 2820 s more.
    expect(run.firstStart[0]).toBe(0);
    expect(run.completedAt[1]).toBe(1980);
    expect(run.completedAt[0]).toBe(1980 + 2820);
    expect(run.outcome).toEqual(['completed', 'completed']);
    // While P was being noticed, the view showed the node as promised to F, and P not as a lease.
    const during = scheduler.views.find((v) => v.now === 720)!;
    expect(Array.from(during.free)).toEqual([0]);
    expect(during.leases.map((l) => l.record.job.id)).toEqual(['F']);
  });

  it('pays providers the node price, charges each lease at most its limit for the seconds it ran, and reconciles with uplift', async () => {
    const w = workload([node('n1')], [job('cheap', 't', 0, 4, 90), job('rich', 't', 0, 4, 120)], 600);
    const run = await simulate(
      w,
      w.nodes,
      new ScriptedScheduler((view) =>
        view.now === 0
          ? {
              placements: [
                { ...whole(0, '1.00'), shares: [{ node: 0, gpus: 4 }] },
                { ...whole(1), shares: [{ node: 0, gpus: 4 }] },
              ],
            }
          : {},
      ),
    );
    const m = computeMetrics(w, run);
    // Without repricing the node is priced at its pool's 2.00. cheap (limit 1.00) pays its limit
    // for 4 GPUs x 90 s: 0.066667 + 0.033333 = 0.1; rich pays 2.00 for 4 x 120 s: 2 x 0.133333.
    expect(m.charges).toBe('0.366666');
    // The node still earns 2.00 for cheap's GPU-seconds: the market pays the rest,
    // (0.133333 - 0.066667) + (0.066667 - 0.033333) = 0.1.
    expect(m.uplift).toBe('0.100000');
    // The 10% fee is on the providers' gross (0.133333 + 0.066667 + 2 x 0.133333 = 0.466666).
    expect([m.fees, m.payouts]).toEqual(['0.046666', '0.420000']);
    expect(m.reconciliation).toEqual({ chargesPlusUplift: '0.466666', payoutsPlusFees: '0.466666', balanced: true });
    expect(m.upliftShareOfCharges).toBeCloseTo(0.1 / 0.366666, 12);
    expect(run.meter.entries).toBe(4);
  });

  it("settles the round's node prices per share: a lease whose limit is below its mean node price pays its limit, the providers their prices", async () => {
    // G spans two 4-GPU nodes priced 3.00 and 1.50 (mean 2.25) with a 2.00 limit: it pays 2.00
    // and the market pays 0.25 per GPU-hour of uplift. H (4 GPUs on n1, limit 5.00) pays n1's 3.00.
    const w = workload(
      [node('n1', 8), node('n2', 4)],
      [job('G', 'a', 0, 8, 3600, { contiguity: 'block' }), job('H', 'b', 0, 4, 3600)],
      3600,
    );
    const nodePrices = [new Money('3.00'), new Money('1.50')];
    const run = await simulate(
      w,
      w.nodes,
      new ScriptedScheduler((view) =>
        view.now === 0
          ? {
              placements: [
                {
                  jobIndex: 0,
                  gpuModel: 'H100',
                  shares: [
                    { node: 0, gpus: 4 },
                    { node: 1, gpus: 4 },
                  ],
                  limit: new Money('2.00'),
                  leaseId: 'g',
                },
                {
                  jobIndex: 1,
                  gpuModel: 'H100',
                  shares: [{ node: 0, gpus: 4 }],
                  limit: new Money('5.00'),
                  leaseId: 'h',
                },
              ],
              repricing: new Map([
                ['g', { nodePrices, unitPrice: new Money('2.00'), uplift: new Money('0.25') }],
                ['h', { nodePrices: [nodePrices[0]], unitPrice: new Money('3.00'), uplift: new Money(0) }],
              ]),
            }
          : {
              repricing: new Map([
                ['g', { nodePrices, unitPrice: new Money('2.00'), uplift: new Money('0.25') }],
                ['h', { nodePrices: [nodePrices[0]], unitPrice: new Money('3.00'), uplift: new Money(0) }],
              ]),
            },
      ),
    );
    const m = computeMetrics(w, run);
    // One hour in 60 periods. G: gross per period 4 x 60 s x 3.00 = 0.2 and x 1.50 = 0.1; charge
    // 8 x 60 s x 2.00 = 0.266667 (rounded once for the lease), uplift 0.033333. H: 0.2 a period.
    expect(m.spendByTenant).toEqual({ a: '16.000020', b: '12.000000' });
    expect(m.uplift).toBe('1.999980');
    // Gross: 60 x (0.2 + 0.1 + 0.2) = 30; fee 10% of each share's gross.
    expect([m.charges, m.fees, m.payouts]).toEqual(['28.000020', '3.000000', '27.000000']);
    expect(m.reconciliation.balanced).toBe(true);
    // G's GPU-hours on n2 and n1 are all priced above their 1.00 reserve.
    expect(m.byClass!.fixed_now.reserveShare).toBe(0);
  });

  it('expires a bid whose window can no longer fit and never offers it to the scheduler again', async () => {
    const w = workload([node('n1')], [job('W', 't', 0, 8, 600, { window: { notBefore: 0, deadline: 900 } })], 3600);
    const scheduler = new ScriptedScheduler(() => ({}));
    const run = await simulate(w, w.nodes, scheduler);
    expect(run.outcome).toEqual(['expired']);
    const offered = scheduler.views.filter((v) => v.open.length > 0).map((v) => v.now);
    expect(offered).toEqual([0, 60, 120, 180, 240, 300]);
  });

  it('refuses a decision that over-allocates a node', async () => {
    const w = workload([node('n1')], [job('A', 't', 0, 8, 60), job('B', 't', 0, 8, 60)], 120);
    await expect(
      simulate(w, w.nodes, new ScriptedScheduler((v) => (v.now === 0 ? { placements: [whole(0), whole(1)] } : {}))),
    ).rejects.toThrow(/over-allocated/);
  });

  it('refuses, through the lease lifecycle, a notice to a lease that is not preemptible', async () => {
    const w = workload([node('n1')], [job('A', 't', 0, 8, 3600, { preemptible: false })], 3600);
    const scheduler = new ScriptedScheduler((v) =>
      v.now === 0 ? { placements: [whole(0)] } : v.now === 1200 ? { preempt: [v.leases[0].record.id] } : {},
    );
    await expect(simulate(w, w.nodes, scheduler)).rejects.toThrow(/cannot preempt \(not_preemptible\)/);
  });
});
