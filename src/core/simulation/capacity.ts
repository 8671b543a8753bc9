import type { MarketNode } from '../market/types.js';
import type { RoundProgress } from './engine.js';
import type { BaselineMetrics } from './metrics.js';
import type { SimJob, Workload } from './workload.js';

/**
 * Fleet sizing: what dedicated reservations buy (each tenant its own peak), how a shared fleet
 * is scaled up or down, and the search for the smallest shared fleet that serves the same
 * demand at the same wait as the dedicated one.
 */

/**
 * The model a job would run on given the node shapes there are: its most preferred model with a
 * node big enough for the gang when the gang must sit on one node; its preferred model otherwise.
 * Null when no model it accepts can ever hold it.
 */
export function modelThatFits(job: SimJob, largestNode: ReadonlyMap<string, number>): string | null {
  for (const offer of job.offers) {
    const largest = largestNode.get(offer.gpuModel);
    if (largest === undefined) continue;
    if (job.contiguity !== 'node' || largest >= job.gpus) return offer.gpuModel;
  }
  return null;
}

export function largestNodes(nodes: readonly MarketNode[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of nodes) out.set(n.gpuModel, Math.max(out.get(n.gpuModel) ?? 0, n.gpus - n.unavailableGpus));
  return out;
}

/**
 * Peak GPUs in use per model if every job ran the moment it arrived, on `modelOf(job)` (default: its preferred
 * model).
 */
export function peakDemand(
  jobs: readonly SimJob[],
  horizon: number,
  modelOf: (job: SimJob) => string | null = (j) => j.offers[0].gpuModel,
): Map<string, number> {
  const events = new Map<string, [number, number][]>();
  for (const job of jobs) {
    const model = modelOf(job);
    if (model === null) continue;
    const list = events.get(model) ?? [];
    list.push([job.arrival, job.gpus], [Math.min(horizon, job.arrival + job.runtimeSeconds), -job.gpus]);
    events.set(model, list);
  }
  const peaks = new Map<string, number>();
  for (const [model, list] of events) {
    list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let level = 0;
    let peak = 0;
    for (const [, delta] of list) peak = Math.max(peak, (level += delta));
    peaks.set(model, peak);
  }
  return peaks;
}

function clone(template: MarketNode, id: string, block: string): MarketNode {
  return { ...template, id, block, nvlinkDomain: id, unavailableGpus: 0 };
}

/**
 * Each tenant owns whole nodes, enough for its own peak, shaped by its own needs: each job counts
 * on the first model it accepts that has a node big enough for its gang (so an 8-GPU gang is
 * never sized onto 2-GPU nodes), and the tenant's nodes of a model are the smallest node shape
 * the shared fleet has for that model that holds the tenant's largest one-node gang there (the
 * largest shape when none does).
 */
export function dedicatedFleet(workload: Workload): { nodes: MarketNode[]; owner: string[] } {
  const nodes: MarketNode[] = [];
  const owner: string[] = [];
  const largest = largestNodes(workload.nodes);
  for (const tenant of workload.tenants) {
    const own = workload.jobs.filter((j) => j.tenant === tenant);
    const modelOf = (j: SimJob) => modelThatFits(j, largest);
    const peaks = peakDemand(own, workload.horizonSeconds, modelOf);
    for (const [model, peak] of [...peaks].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const gang = own.reduce((m, j) => (j.contiguity === 'node' && modelOf(j) === model ? Math.max(m, j.gpus) : m), 1);
      const shapes = workload.nodes.filter((n) => n.gpuModel === model).sort((a, b) => a.gpus - b.gpus);
      const template = shapes.find((n) => n.gpus >= gang) ?? shapes[shapes.length - 1];
      if (!template) continue;
      const count = Math.ceil(peak / template.gpus);
      for (let k = 0; k < count; k++) {
        const id = `${tenant}-${model}-d${String(k).padStart(4, '0')}`;
        nodes.push(clone(template, id, `${tenant}-${model}-b${Math.floor(k / 16)}`));
        owner.push(tenant);
      }
    }
  }
  return { nodes, owner };
}

/** Keeps ceil(count x factor) nodes of every (model, region) group, cloning the last one to grow. */
export function scaleFleet(nodes: readonly MarketNode[], factor: number): MarketNode[] {
  const groups = new Map<string, MarketNode[]>();
  for (const node of nodes) {
    const key = `${node.gpuModel}\u0000${node.region}`;
    const group = groups.get(key);
    if (group) group.push(node);
    else groups.set(key, [node]);
  }
  const out: MarketNode[] = [];
  for (const group of groups.values()) {
    const want = Math.max(1, Math.ceil(group.length * factor - 1e-9));
    for (let k = 0; k < want; k++) {
      const template = group[Math.min(k, group.length - 1)];
      out.push(
        k < group.length
          ? template
          : clone(template, `${template.id}-x${k}`, `${template.block}-x${Math.floor(k / 16)}`),
      );
    }
  }
  return out;
}

export const totalGpus = (nodes: readonly MarketNode[]) => nodes.reduce((a, n) => a + n.gpus - n.unavailableGpus, 0);

/** The fleet's size in money: GPUs x reserve price per hour, summed. */
export const fleetCostPerHour = (nodes: readonly MarketNode[]) =>
  nodes.reduce((a, n) => a + (n.gpus - n.unavailableGpus) * n.reservePrice.toNumber(), 0);

/** "The same demand at the same wait", as measured on the dedicated baseline. */
export interface ServiceTarget {
  readonly p95WaitNowSeconds: number;
  readonly p99WaitNowSeconds: number;
  readonly deadlineHitRate: number | null;
  readonly gpuHoursServed: number;
  /** Share of jobs completed by the end of the run. */
  readonly completionRate: number;
}

export function serviceTarget(dedicated: BaselineMetrics, periodSeconds: number): ServiceTarget {
  return {
    // A shared fleet decides once per round, so one period of wait is the floor for anyone.
    p95WaitNowSeconds: Math.max(dedicated.p95WaitNowSeconds, periodSeconds),
    p99WaitNowSeconds: Math.max(dedicated.p99WaitNowSeconds, periodSeconds),
    deadlineHitRate: dedicated.deadlineHitRate,
    gpuHoursServed: dedicated.gpuHoursServed,
    completionRate: dedicated.completionRate,
  };
}

export interface TargetCheck {
  readonly goal: string;
  readonly target: number;
  readonly measured: number | null;
  readonly met: boolean;
}

/**
 * Each part of the service target, with its tolerance: waits at p95 and p99 no longer than
 * dedicated's; deadline hit rate within 1 point; completion within 1 point; GPU-hours served
 * inside the horizon at least 99% of dedicated's.
 */
export function targetChecks(m: BaselineMetrics, target: ServiceTarget): TargetCheck[] {
  const checks: TargetCheck[] = [
    {
      goal: 'p95 wait without a window (s) <=',
      target: target.p95WaitNowSeconds,
      measured: m.p95WaitNowSeconds,
      met: m.p95WaitNowSeconds <= target.p95WaitNowSeconds,
    },
    {
      goal: 'p99 wait without a window (s) <=',
      target: target.p99WaitNowSeconds,
      measured: m.p99WaitNowSeconds,
      met: m.p99WaitNowSeconds <= target.p99WaitNowSeconds,
    },
    {
      goal: 'jobs completed >=',
      target: target.completionRate - 0.01,
      measured: m.completionRate,
      met: m.completionRate >= target.completionRate - 0.01 - 1e-12,
    },
    {
      goal: 'GPU-hours served in the horizon >=',
      target: 0.99 * target.gpuHoursServed,
      measured: m.gpuHoursServed,
      met: m.gpuHoursServed >= 0.99 * target.gpuHoursServed,
    },
  ];
  if (target.deadlineHitRate !== null)
    checks.push({
      goal: 'deadline hit rate >=',
      target: target.deadlineHitRate - 0.01,
      measured: m.deadlineHitRate,
      met: (m.deadlineHitRate ?? 1) >= target.deadlineHitRate - 0.01 - 1e-12,
    });
  return checks;
}

export function meetsTarget(m: BaselineMetrics, target: ServiceTarget): boolean {
  return targetChecks(m, target).every((c) => c.met);
}

/**
 * No fleet below the mean load can serve the demand inside the horizon, so the search starts
 * there (with 5% slack for the work the target lets run past the end).
 */
export function meanLoadFactor(workload: Workload, base: readonly MarketNode[]): number {
  const gpuSeconds = workload.jobs.reduce(
    (a, j) => a + j.gpus * Math.max(0, Math.min(j.runtimeSeconds, workload.horizonSeconds - j.arrival)),
    0,
  );
  return Math.max(1e-3, (0.95 * gpuSeconds) / workload.horizonSeconds / Math.max(1, totalGpus(base)));
}

/**
 * A rule that ends a capacity probe as soon as it can no longer meet the target, so a fleet that
 * is too small costs a fraction of a full run. Both counts only grow as the run goes on:
 * - a job without a window whose wait already exceeds the target (started late, or still
 *   waiting that long): more of them than the p95 allows means the p95 misses;
 * - a windowed job whose deadline (inside the horizon) passed unmet: more misses than the
 *   hit-rate tolerance allows means the hit rate misses.
 */
export function targetStopRule(workload: Workload, target: ServiceTarget): (progress: RoundProgress) => boolean {
  const { jobs } = workload;
  const now = jobs.map((j, i) => i).filter((i) => !jobs[i].window);
  const lateAllowed = now.length - Math.ceil(0.95 * now.length);
  const lateAllowed99 = now.length - Math.ceil(0.99 * now.length);
  // Every windowed job: runs drain past the horizon until the last deadline.
  const due = jobs
    .map((j, i) => i)
    .filter((i) => jobs[i].window)
    .sort((a, b) => jobs[a].window!.deadline - jobs[b].window!.deadline);
  const missesAllowed =
    target.deadlineHitRate === null ? Infinity : due.length * (1.01 - target.deadlineHitRate) + 1e-9;
  let nextNow = 0;
  let nextDue = 0;
  let nextNow99 = 0;
  let late = 0;
  let late99 = 0;
  let misses = 0;
  const isLate = (i: number, limit: number, firstStart: Float64Array) =>
    Number.isNaN(firstStart[i]) || firstStart[i] - jobs[i].arrival > limit;
  return ({ now: t, firstStart, completedAt }) => {
    // Jobs are in arrival order; one whose target wait has run out is decided either way.
    while (nextNow < now.length && t - jobs[now[nextNow]].arrival > target.p95WaitNowSeconds)
      if (isLate(now[nextNow++], target.p95WaitNowSeconds, firstStart)) late++;
    while (nextNow99 < now.length && t - jobs[now[nextNow99]].arrival > target.p99WaitNowSeconds)
      if (isLate(now[nextNow99++], target.p99WaitNowSeconds, firstStart)) late99++;
    while (nextDue < due.length && jobs[due[nextDue]].window!.deadline < t) {
      const i = due[nextDue++];
      if (!(completedAt[i] <= jobs[i].window!.deadline)) misses++;
    }
    return late > lateAllowed || late99 > lateAllowed99 || misses > missesAllowed;
  };
}

export interface CapacityProbe {
  readonly factor: number;
  readonly gpus: number;
  readonly met: boolean;
  /**
   * Hours into the run at which the probe stopped because the target could no longer be met; null if it ran to the
   * end.
   */
  readonly stoppedAtHour: number | null;
}

export interface CapacityResult {
  /** The smallest fleet found that met the target; null when even the largest probed did not. */
  readonly gpus: number | null;
  /** The scale factor of that fleet (scaleFleet of the scenario's); null with gpus. */
  readonly factor?: number | null;
  readonly probes: readonly CapacityProbe[];
}

/** A probe's verdict: the full run's metrics, or the hour at which it stopped as a sure miss. */
export type ProbeRun =
  | { readonly metrics: BaselineMetrics; readonly stoppedAtHour: null }
  | { readonly metrics: null; readonly stoppedAtHour: number };

/**
 * Bisection on the scale of the shared fleet, assuming more GPUs never hurt the service level.
 * Midpoints are geometric, so the answer is found to a relative precision whether the fleet
 * is a tenth or a hundredth of the one given: `steps` probes, each halving the interval's
 * log-width; the upper bound itself is probed last, and only if no probe below it met the target. `known` is a fleet
 * already run (the scenario's own), which
 * narrows the interval for free; factors that round to a fleet already probed are not run again.
 */
export async function searchCapacity(
  base: readonly MarketNode[],
  evaluate: (nodes: MarketNode[]) => Promise<ProbeRun>,
  target: ServiceTarget,
  bounds: { readonly low: number; readonly high: number; readonly steps: number },
  known: { readonly factor: number; readonly metrics: BaselineMetrics } | null = null,
): Promise<CapacityResult> {
  const probes: CapacityProbe[] = [];
  const verdicts = new Map<number, boolean>();
  let { low, high } = bounds;
  let best: number | null = null;
  let bestFactor: number | null = null;
  if (known && known.factor > low && known.factor < high) {
    const gpus = totalGpus(scaleFleet(base, known.factor));
    const met = meetsTarget(known.metrics, target);
    verdicts.set(gpus, met);
    if (met) ((high = known.factor), (best = gpus), (bestFactor = known.factor));
    else low = known.factor;
  }
  const probe = async (factor: number) => {
    const nodes = scaleFleet(base, factor);
    const gpus = totalGpus(nodes);
    let met = verdicts.get(gpus);
    if (met === undefined) {
      const run = await evaluate(nodes);
      met = run.metrics !== null && meetsTarget(run.metrics, target);
      verdicts.set(gpus, met);
      probes.push({ factor, gpus, met, stoppedAtHour: run.stoppedAtHour });
    }
    if (met && gpus < (best ?? Infinity)) ((best = gpus), (bestFactor = factor));
    return met;
  };
  // The upper bound is probed only if nothing below it meets the target: when something does,
  // the bound was never needed, and it is the largest (slowest to confirm) fleet of all.
  const topKnown = best !== null;
  for (let step = 0; step < bounds.steps; step++) {
    const mid = Math.sqrt(low * high);
    if (await probe(mid)) high = mid;
    else low = mid;
  }
  if (best === null && !topKnown) await probe(bounds.high);
  return { gpus: best, factor: bestFactor, probes };
}
