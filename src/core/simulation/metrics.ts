import { allocate, formatPrice, Money, sum, ZERO } from '../money/money.js';
import type { SimRun } from './engine.js';
import { SettlementMeter } from './settlement-meter.js';
import { FLEXIBILITY_CLASSES, flexibilityClass, type FlexibilityClass, type Workload } from './workload.js';

export interface BaselineMetrics {
  readonly baseline: string;
  readonly gpus: number;
  /** GPU-seconds run / (GPUs x horizon). */
  readonly utilisation: number;
  readonly gpuHoursServed: number;
  readonly gpuHoursDemanded: number;
  readonly jobs: number;
  readonly jobsCompleted: number;
  readonly jobsExpired: number;
  readonly jobsNeverStarted: number;
  /** Waits are first start - arrival; a job not started by the end counts with the wait it had so far. */
  readonly meanWaitSeconds: number;
  readonly p95WaitSeconds: number;
  readonly p95WaitNowSeconds: number;
  /** Windowed jobs whose deadline falls inside the horizon that completed by it; null when none. */
  readonly deadlineHitRate: number | null;
  readonly windowedJobsDue: number;
  readonly preemptions: number;
  readonly preemptionsPerJobHour: number;
  /** Mean paid per GPU-hour run, by flexibility class; null where the class ran nothing. */
  readonly pricePerGpuHour: Readonly<Record<FlexibilityClass, string | null>>;
  /**
   * Per flexibility class, for baselines charged per period: the mean limit of the leases that
   * ran (what they would have paid as bid), and the share of their GPU-hours charged exactly
   * the node's reserve, i.e. run while their pool had idle GPUs. Null for reservations.
   */
  readonly byClass: Readonly<Record<FlexibilityClass, ClassFigures>> | null;
  /** Jobs whose window closed before they could finish, by flexibility class, and how many of them had run and been preempted. */
  readonly expiredByClass: Readonly<Record<FlexibilityClass, number>>;
  readonly expiredAfterPreemption: number;
  readonly spendByTenant: Readonly<Record<string, string>>;
  readonly charges: string;
  readonly fees: string;
  readonly payouts: string;
  readonly solveMs: { readonly mean: number; readonly p95: number; readonly max: number };
}

export interface ClassFigures {
  readonly gpuHours: number;
  readonly meanLimit: number | null;
  readonly reserveShare: number | null;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const mean = (values: readonly number[]) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

/** Dedicated capacity is paid for whether it is used or not: its cost is spread over the jobs that used it, by GPU-seconds. */
function reservedSpend(workload: Workload, run: SimRun): { byJob: Money[]; byTenant: Map<string, Money> } {
  const byJob = workload.jobs.map(() => ZERO);
  const byTenant = new Map<string, Money>();
  const hours = new Money(run.horizonSeconds).dividedBy(3600);
  run.nodes.forEach((node, i) => {
    const owner = run.nodeOwner?.[i];
    if (!owner) return;
    const cost = node.reservePrice.times(node.gpus).times(hours).toDecimalPlaces(6);
    byTenant.set(owner, (byTenant.get(owner) ?? ZERO).plus(cost));
  });
  for (const [tenant, cost] of byTenant) {
    const users = workload.jobs.map((j, i) => i).filter((i) => workload.jobs[i].tenant === tenant && run.gpuSeconds[i] > 0);
    if (users.length === 0) continue;
    const parts = allocate(cost, users.map((i) => new Money(run.gpuSeconds[i])));
    users.forEach((i, k) => (byJob[i] = parts[k]));
  }
  return { byJob, byTenant };
}

export function computeMetrics(workload: Workload, run: SimRun): BaselineMetrics {
  const { jobs } = workload;
  const horizon = run.horizonSeconds;
  const waits: number[] = [];
  const nowWaits: number[] = [];
  let completed = 0;
  let expired = 0;
  let neverStarted = 0;
  let due = 0;
  let hits = 0;
  let jobSeconds = 0;
  let preemptions = 0;
  jobs.forEach((job, i) => {
    const started = !Number.isNaN(run.firstStart[i]);
    const wait = (started ? run.firstStart[i] : horizon) - job.arrival;
    waits.push(wait);
    if (!job.window) nowWaits.push(wait);
    if (!started) neverStarted++;
    if (run.outcome[i] === 'completed') completed++;
    if (run.outcome[i] === 'expired') expired++;
    if (job.window && job.window.deadline <= horizon) {
      due++;
      if (run.outcome[i] === 'completed' && run.completedAt[i] <= job.window.deadline) hits++;
    }
    jobSeconds += run.runSeconds[i];
    preemptions += run.preemptions[i];
  });
  const gpus = run.nodes.reduce((a, n) => a + n.gpus - n.unavailableGpus, 0);
  const served = run.gpuSeconds.reduce((a, b) => a + b, 0);
  const demanded = jobs.reduce((a, j) => a + j.gpus * Math.max(0, Math.min(j.runtimeSeconds, horizon - j.arrival)), 0);

  const spendByClass = new Map<FlexibilityClass, Money>();
  const gpuSecondsByClass = new Map<FlexibilityClass, number>();
  let spendByTenant: Map<string, Money>;
  let charges: Money;
  let fees: Money;
  if (run.charging === 'reserved') {
    const reserved = reservedSpend(workload, run);
    jobs.forEach((job, i) => {
      const c = flexibilityClass(job);
      spendByClass.set(c, (spendByClass.get(c) ?? ZERO).plus(reserved.byJob[i]));
    });
    spendByTenant = reserved.byTenant;
    charges = sum(reserved.byTenant.values());
    fees = ZERO;
  } else {
    for (const [c, micros] of run.meter.byClass) spendByClass.set(c, SettlementMeter.toMoney(micros));
    spendByTenant = new Map([...run.meter.byTenant].map(([t, micros]) => [t, SettlementMeter.toMoney(micros)]));
    charges = SettlementMeter.toMoney(run.meter.chargesMicros);
    fees = SettlementMeter.toMoney(run.meter.feesMicros);
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
            return [c, { gpuHours: gs / 3600, meanLimit: gs > 0 ? (total(u?.limitSpend) * 3600) / gs : null, reserveShare: gs > 0 ? total(u?.atReserveGpuSeconds) / gs : null }];
          }),
        ) as Record<FlexibilityClass, ClassFigures>);
  const solve = run.solveMs;
  return {
    baseline: run.scheduler,
    gpus,
    utilisation: gpus > 0 ? served / (gpus * horizon) : 0,
    gpuHoursServed: served / 3600,
    gpuHoursDemanded: demanded / 3600,
    jobs: jobs.length,
    jobsCompleted: completed,
    jobsExpired: expired,
    jobsNeverStarted: neverStarted,
    meanWaitSeconds: mean(waits),
    p95WaitSeconds: quantile(waits, 0.95),
    p95WaitNowSeconds: quantile(nowWaits, 0.95),
    deadlineHitRate: due > 0 ? hits / due : null,
    windowedJobsDue: due,
    preemptions,
    preemptionsPerJobHour: jobSeconds > 0 ? preemptions / (jobSeconds / 3600) : 0,
    pricePerGpuHour,
    byClass,
    expiredByClass,
    expiredAfterPreemption,
    spendByTenant: Object.fromEntries(workload.tenants.map((t) => [t, (spendByTenant.get(t) ?? ZERO).toFixed(6)])),
    charges: charges.toFixed(6),
    fees: fees.toFixed(6),
    payouts: charges.minus(fees).toFixed(6),
    solveMs: { mean: mean(solve), p95: quantile(solve, 0.95), max: solve.reduce((a, b) => Math.max(a, b), 0) },
  };
}
