import { allocate, formatPrice, Money, sum, ZERO } from '../money/money.js';
import type { SimRun } from './engine.js';
import { SettlementMeter } from './settlement-meter.js';
import { FLEXIBILITY_CLASSES, flexibilityClass, type FlexibilityClass, type Workload } from './workload.js';

export interface BaselineMetrics {
  readonly baseline: string;
  readonly gpus: number;
  /** The fleet's size in money: sum over its GPUs of the reserve price per hour (6 decimals). */
  readonly fleetCostPerHour: string;
  /** GPU-seconds run inside the horizon / (GPUs x horizon). */
  readonly utilisation: number;
  readonly gpuHoursServed: number;
  readonly gpuHoursDemanded: number;
  readonly jobs: number;
  readonly jobsCompleted: number;
  readonly jobsExpired: number;
  readonly jobsNeverStarted: number;
  /** jobsCompleted / jobs. */
  readonly completionRate: number;
  /** Waits are first start - arrival; a job not started by the end of the run counts with the wait it had then. */
  readonly meanWaitSeconds: number;
  readonly p95WaitSeconds: number;
  /** The same over jobs without a window ("now" work). */
  readonly p95WaitNowSeconds: number;
  readonly p99WaitNowSeconds: number;
  readonly maxWaitNowSeconds: number;
  /**
   * Over every windowed job: those that completed by their deadline / all of them. The run
   * drains past the horizon until the last deadline (engine `drain`), so no deadline is left
   * out; a job still open when its deadline passed is a miss. Null when there are none.
   */
  readonly deadlineHitRate: number | null;
  /** Windowed jobs (all of them: every deadline falls inside the drained run). */
  readonly windowedJobsDue: number;
  readonly deadlineHits: number;
  readonly preemptions: number;
  /** Preemptions / hours run by preemptible jobs (the only ones that can be preempted). */
  readonly preemptionsPerPreemptibleJobHour: number;
  /** Preemptions / hours run by all jobs: the definition before issue 18, kept for comparison only. */
  readonly preemptionsPerJobHour: number;
  /**
   * Value delivered: sum over jobs of their limit (the value they bid for the model they ran on)
   * x GPU-hours run inside their window (windowed jobs), or x all GPU-hours they ran when their
   * wait was no longer than `valueWaitTargetSeconds` (jobs without a window); null until a
   * target is given. `surplus` = value - charges (what tenants gained over what they paid).
   */
  readonly value: {
    readonly waitTargetSeconds: number;
    readonly delivered: string;
    readonly surplus: string;
    readonly byClass: Readonly<Record<FlexibilityClass, string>>;
  } | null;
  /**
   * Mean charged to tenants per GPU-hour run (charges / GPU-hours, uplift not included), by flexibility class; null
   * where the class ran nothing.
   */
  readonly pricePerGpuHour: Readonly<Record<FlexibilityClass, string | null>>;
  /**
   * Per flexibility class, for baselines charged per period: the mean limit of the leases that
   * ran (what they would have paid as bid), the share of their GPU-hours run on nodes priced
   * exactly at their reserve (no scarcity rent that round), and their uplift as a share of their
   * charges. Null for reservations.
   */
  readonly byClass: Readonly<Record<FlexibilityClass, ClassFigures>> | null;
  /**
   * Jobs whose window closed before they could finish, by flexibility class, and how many of them had run and been
   * preempted.
   */
  readonly expiredByClass: Readonly<Record<FlexibilityClass, number>>;
  readonly expiredAfterPreemption: number;
  readonly spendByTenant: Readonly<Record<string, string>>;
  /** What tenants paid (6 decimals). */
  readonly charges: string;
  /**
   * What the market paid providers beyond the charges: where a lease's limit is below the
   * GPU-weighted mean of its nodes' prices, the tenant pays its limit and the providers still get
   * the node prices (market.md section 5a). Zero for list-priced and reserved baselines.
   */
  readonly uplift: string;
  /** The platform's fee: a share of the providers' gross (charges + uplift). */
  readonly fees: string;
  /** What providers received: their gross less the fee. */
  readonly payouts: string;
  /** The books balance: charges + uplift = payouts + fees, summed exactly in micro-units. */
  readonly reconciliation: {
    readonly chargesPlusUplift: string;
    readonly payoutsPlusFees: string;
    readonly balanced: boolean;
  };
  /** uplift / charges; null when nothing was charged. */
  readonly upliftShareOfCharges: number | null;
  /**
   * Bid-rounds the market turned away (each losing bid once per round) and, of them, those the
   * core lists as paradoxically rejected: they could have taken GPUs below their limit at the
   * round's node prices and still lost (reason `indivisible`: a gang or contiguity made the
   * allocation unpriceable without charging a winner above its limit; `idle_gpus`: GPUs priced at
   * their reserve stayed idle). `share` = paradoxically rejected / losers. Null for baselines
   * without prices.
   */
  readonly paradoxicalRejections: {
    readonly losers: number;
    readonly count: number;
    readonly share: number | null;
    readonly byReason: Readonly<Record<string, number>>;
  } | null;
  readonly solveMs: { readonly mean: number; readonly p95: number; readonly max: number };
}

export interface ClassFigures {
  readonly gpuHours: number;
  readonly meanLimit: number | null;
  /** Share of the class's GPU-hours run on nodes priced exactly at their reserve (no rent). */
  readonly reserveShare: number | null;
  /** The class's uplift / its charges (exact amounts); null when it was charged nothing. */
  readonly upliftShare: number | null;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** a / b for exact micro-unit amounts (b > 0), as a plain number for a share. */
const ratio = (a: bigint, b: bigint) => new Money(a.toString()).dividedBy(b.toString()).toNumber();

const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

/**
 * Dedicated capacity is paid for whether it is used or not: its cost is spread over the jobs that used it, by
 * GPU-seconds.
 */
function reservedSpend(workload: Workload, run: SimRun): { byJob: Money[]; byTenant: Map<string, Money> } {
  const byJob = workload.jobs.map(() => ZERO);
  const byTenant = new Map<string, Money>();
  // Held for the whole run, drain included: the reservation lasts as long as its work does.
  const hours = new Money(run.endSeconds).dividedBy(3600);
  run.nodes.forEach((node, i) => {
    const owner = run.nodeOwner?.[i];
    if (!owner) return;
    const cost = node.reservePrice.times(node.gpus).times(hours).toDecimalPlaces(6);
    byTenant.set(owner, (byTenant.get(owner) ?? ZERO).plus(cost));
  });
  for (const [tenant, cost] of byTenant) {
    const users = workload.jobs
      .map((j, i) => i)
      .filter((i) => workload.jobs[i].tenant === tenant && run.gpuSeconds[i] > 0);
    if (users.length === 0) continue;
    const parts = allocate(
      cost,
      users.map((i) => new Money(run.gpuSeconds[i])),
    );
    users.forEach((i, k) => (byJob[i] = parts[k]));
  }
  return { byJob, byTenant };
}

/**
 * Value delivered (see BaselineMetrics.value): each stretch a job ran, at its lease's limit,
 * counted where it lies inside the job's window, or, for work without a window, in full when the
 * job's first wait was within `waitTarget`.
 */
export function valueDelivered(
  workload: Workload,
  run: SimRun,
  waitTarget: number,
): { total: Money; byClass: Map<FlexibilityClass, Money> } {
  const byClass = new Map<FlexibilityClass, Money>();
  let total = ZERO;
  for (const iv of run.intervals) {
    const job = workload.jobs[iv.jobIndex];
    let seconds = iv.end - iv.start;
    if (job.window)
      seconds = Math.max(0, Math.min(iv.end, job.window.deadline) - Math.max(iv.start, job.window.notBefore));
    else if (!(run.firstStart[iv.jobIndex] - job.arrival <= waitTarget)) seconds = 0;
    if (seconds <= 0) continue;
    const v = iv.limit.times(iv.gpus * seconds).dividedBy(3600);
    total = total.plus(v);
    const c = flexibilityClass(job);
    byClass.set(c, (byClass.get(c) ?? ZERO).plus(v));
  }
  return { total, byClass };
}

export function computeMetrics(
  workload: Workload,
  run: SimRun,
  valueWaitTargetSeconds: number | null = null,
): BaselineMetrics {
  const { jobs } = workload;
  const horizon = run.horizonSeconds;
  const waits: number[] = [];
  const nowWaits: number[] = [];
  let preemptibleSeconds = 0;
  let completed = 0;
  let expired = 0;
  let neverStarted = 0;
  let due = 0;
  let hits = 0;
  let jobSeconds = 0;
  let preemptions = 0;
  jobs.forEach((job, i) => {
    const started = !Number.isNaN(run.firstStart[i]);
    const wait = (started ? run.firstStart[i] : run.endSeconds) - job.arrival;
    waits.push(wait);
    if (!job.window) nowWaits.push(wait);
    if (!started) neverStarted++;
    if (run.outcome[i] === 'completed') completed++;
    if (run.outcome[i] === 'expired') expired++;
    if (job.window) {
      due++;
      if (run.outcome[i] === 'completed' && run.completedAt[i] <= job.window.deadline) hits++;
    }
    jobSeconds += run.runSeconds[i];
    if (job.preemptible) preemptibleSeconds += run.runSeconds[i];
    preemptions += run.preemptions[i];
  });
  const gpus = run.nodes.reduce((a, n) => a + n.gpus - n.unavailableGpus, 0);
  const served = run.intervals.reduce((a, iv) => a + iv.gpus * Math.max(0, Math.min(iv.end, horizon) - iv.start), 0);
  const fleetCost = run.nodes.reduce((a, n) => a.plus(n.reservePrice.times(n.gpus - n.unavailableGpus)), ZERO);
  const demanded = jobs.reduce((a, j) => a + j.gpus * Math.max(0, Math.min(j.runtimeSeconds, horizon - j.arrival)), 0);

  const spendByClass = new Map<FlexibilityClass, Money>();
  const gpuSecondsByClass = new Map<FlexibilityClass, number>();
  let spendByTenant: Map<string, Money>;
  let charges: Money;
  let fees: Money;
  let uplift = ZERO;
  let payouts: Money;
  if (run.charging === 'reserved') {
    const reserved = reservedSpend(workload, run);
    jobs.forEach((job, i) => {
      const c = flexibilityClass(job);
      spendByClass.set(c, (spendByClass.get(c) ?? ZERO).plus(reserved.byJob[i]));
    });
    spendByTenant = reserved.byTenant;
    charges = sum(reserved.byTenant.values());
    fees = ZERO;
    payouts = charges;
  } else {
    for (const [c, micros] of run.meter.byClass) spendByClass.set(c, SettlementMeter.toMoney(micros));
    spendByTenant = new Map([...run.meter.byTenant].map(([t, micros]) => [t, SettlementMeter.toMoney(micros)]));
    charges = SettlementMeter.toMoney(run.meter.chargesMicros);
    fees = SettlementMeter.toMoney(run.meter.feesMicros);
    uplift = SettlementMeter.toMoney(run.meter.upliftMicros);
    payouts = SettlementMeter.toMoney(run.meter.payoutsMicros);
  }
  jobs.forEach((job, i) => {
    const c = flexibilityClass(job);
    gpuSecondsByClass.set(c, (gpuSecondsByClass.get(c) ?? 0) + run.gpuSeconds[i]);
  });
  const pricePerGpuHour = Object.fromEntries(
    FLEXIBILITY_CLASSES.map((c) => {
      const gs = gpuSecondsByClass.get(c) ?? 0;
      return [c, gs > 0 ? formatPrice((spendByClass.get(c) ?? ZERO).times(3600).dividedBy(gs)) : null];
    }),
  ) as Record<FlexibilityClass, string | null>;
  const expiredByClass = Object.fromEntries(FLEXIBILITY_CLASSES.map((c) => [c, 0])) as Record<FlexibilityClass, number>;
  let expiredAfterPreemption = 0;
  jobs.forEach((job, i) => {
    if (run.outcome[i] !== 'expired') return;
    expiredByClass[flexibilityClass(job)]++;
    if (run.preemptions[i] > 0) expiredAfterPreemption++;
  });
  const byClass =
    run.charging === 'reserved'
      ? null
      : (Object.fromEntries(
          FLEXIBILITY_CLASSES.map((c) => {
            const u = run.usageByHour.get(c);
            const total = (a: Float64Array | undefined) => (a ? a.reduce((x, y) => x + y, 0) : 0);
            const gs = total(u?.gpuSeconds);
            const charged = run.meter.byClass.get(c) ?? 0n;
            return [
              c,
              {
                gpuHours: gs / 3600,
                meanLimit: gs > 0 ? (total(u?.limitSpend) * 3600) / gs : null,
                reserveShare: gs > 0 ? total(u?.atReserveGpuSeconds) / gs : null,
                upliftShare: charged > 0n ? ratio(run.meter.upliftByClass.get(c) ?? 0n, charged) : null,
              },
            ];
          }),
        ) as Record<FlexibilityClass, ClassFigures>);
  const solve = run.solveMs;
  const paradox = run.pricing;
  const paradoxCount = paradox ? Object.values(paradox.paradoxicallyRejected).reduce((a, b) => a + b, 0) : 0;
  let value: BaselineMetrics['value'] = null;
  if (valueWaitTargetSeconds !== null) {
    const v = valueDelivered(workload, run, valueWaitTargetSeconds);
    value = {
      waitTargetSeconds: valueWaitTargetSeconds,
      delivered: v.total.toFixed(6),
      surplus: v.total.minus(charges).toFixed(6),
      byClass: Object.fromEntries(FLEXIBILITY_CLASSES.map((c) => [c, (v.byClass.get(c) ?? ZERO).toFixed(6)])) as Record<
        FlexibilityClass,
        string
      >,
    };
  }
  return {
    baseline: run.scheduler,
    gpus,
    fleetCostPerHour: fleetCost.toFixed(6),
    utilisation: gpus > 0 ? served / (gpus * horizon) : 0,
    gpuHoursServed: served / 3600,
    gpuHoursDemanded: demanded / 3600,
    jobs: jobs.length,
    jobsCompleted: completed,
    jobsExpired: expired,
    jobsNeverStarted: neverStarted,
    completionRate: jobs.length > 0 ? completed / jobs.length : 1,
    meanWaitSeconds: mean(waits),
    p95WaitSeconds: quantile(waits, 0.95),
    p95WaitNowSeconds: quantile(nowWaits, 0.95),
    p99WaitNowSeconds: quantile(nowWaits, 0.99),
    maxWaitNowSeconds: nowWaits.reduce((a, b) => Math.max(a, b), 0),
    deadlineHitRate: due > 0 ? hits / due : null,
    windowedJobsDue: due,
    deadlineHits: hits,
    preemptions,
    preemptionsPerPreemptibleJobHour: preemptibleSeconds > 0 ? preemptions / (preemptibleSeconds / 3600) : 0,
    preemptionsPerJobHour: jobSeconds > 0 ? preemptions / (jobSeconds / 3600) : 0,
    value,
    pricePerGpuHour,
    byClass,
    expiredByClass,
    expiredAfterPreemption,
    spendByTenant: Object.fromEntries(workload.tenants.map((t) => [t, (spendByTenant.get(t) ?? ZERO).toFixed(6)])),
    charges: charges.toFixed(6),
    uplift: uplift.toFixed(6),
    fees: fees.toFixed(6),
    payouts: payouts.toFixed(6),
    reconciliation: {
      chargesPlusUplift: charges.plus(uplift).toFixed(6),
      payoutsPlusFees: payouts.plus(fees).toFixed(6),
      balanced: charges.plus(uplift).equals(payouts.plus(fees)),
    },
    upliftShareOfCharges: charges.isZero() ? null : uplift.dividedBy(charges).toNumber(),
    paradoxicalRejections: paradox && {
      losers: paradox.losers,
      count: paradoxCount,
      share: paradox.losers > 0 ? paradoxCount / paradox.losers : null,
      byReason: { ...paradox.paradoxicallyRejected },
    },
    solveMs: { mean: mean(solve), p95: quantile(solve, 0.95), max: solve.reduce((a, b) => Math.max(a, b), 0) },
  };
}
