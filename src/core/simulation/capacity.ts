import type { MarketNode } from '../market/types.js';
import type { RoundProgress } from './engine.js';
import type { BaselineMetrics } from './metrics.js';
import type { SimJob, Workload } from './workload.js';

/**
 * Fleet sizing: what dedicated reservations buy (each tenant its own peak), how a shared fleet
 * is scaled up or down, and the search for the smallest shared fleet that serves the same
 * demand at the same wait as the dedicated one.
 */

/** Peak GPUs in use per model if every job ran on its preferred model the moment it arrived. */
export function peakDemand(jobs: readonly SimJob[], horizon: number): Map<string, number> {
  const events = new Map<string, [number, number][]>();
  for (const job of jobs) {
    const model = job.offers[0].gpuModel;
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
 * Each tenant owns whole nodes of the shape the shared fleet uses for each model, enough for
 * its own peak (nodes per block kept as in the template's pool).
 */
export function dedicatedFleet(workload: Workload): { nodes: MarketNode[]; owner: string[] } {
  const nodes: MarketNode[] = [];
  const owner: string[] = [];
  for (const tenant of workload.tenants) {
    const peaks = peakDemand(
      workload.jobs.filter((j) => j.tenant === tenant),
      workload.horizonSeconds,
    );
    for (const [model, peak] of [...peaks].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const template = workload.nodes.find((n) => n.gpuModel === model);
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
      out.push(k < group.length ? template : clone(template, `${template.id}-x${k}`, `${template.block}-x${Math.floor(k / 16)}`));
    }
  }
  return out;
}

export const totalGpus = (nodes: readonly MarketNode[]) => nodes.reduce((a, n) => a + n.gpus - n.unavailableGpus, 0);

/** "The same demand at the same wait", as measured on the dedicated baseline. */
export interface ServiceTarget {
  readonly p95WaitNowSeconds: number;
  readonly deadlineHitRate: number | null;
  readonly gpuHoursServed: number;
}

export function serviceTarget(dedicated: BaselineMetrics, periodSeconds: number): ServiceTarget {
  return {
    // A shared fleet decides once per round, so one period of wait is the floor for anyone.
    p95WaitNowSeconds: Math.max(dedicated.p95WaitNowSeconds, periodSeconds),
    deadlineHitRate: dedicated.deadlineHitRate,
    gpuHoursServed: dedicated.gpuHoursServed,
  };
}

/** Tolerances: 1 point of deadline hit rate and 1% of GPU-hours (work still running at the end of the horizon). */
export function meetsTarget(m: BaselineMetrics, target: ServiceTarget): boolean {
  if (m.p95WaitNowSeconds > target.p95WaitNowSeconds) return false;
  if (target.deadlineHitRate !== null && (m.deadlineHitRate ?? 1) < target.deadlineHitRate - 0.01) return false;
  return m.gpuHoursServed >= 0.99 * target.gpuHoursServed;
}

/**
 * No fleet below the mean load can serve the demand inside the horizon, so the search starts
 * there (with 5% slack for the work the target lets run past the end).
 */
export function meanLoadFactor(workload: Workload, base: readonly MarketNode[]): number {
  const gpuSeconds = workload.jobs.reduce((a, j) => a + j.gpus * Math.max(0, Math.min(j.runtimeSeconds, workload.horizonSeconds - j.arrival)), 0);
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
  const { jobs, horizonSeconds } = workload;
  const now = jobs.map((j, i) => i).filter((i) => !jobs[i].window);
  const lateAllowed = now.length - Math.ceil(0.95 * now.length);
  const due = jobs
    .map((j, i) => i)
    .filter((i) => jobs[i].window && jobs[i].window!.deadline <= horizonSeconds)
    .sort((a, b) => jobs[a].window!.deadline - jobs[b].window!.deadline);
  const missesAllowed = target.deadlineHitRate === null ? Infinity : due.length * (1.01 - target.deadlineHitRate) + 1e-9;
  let nextNow = 0;
  let nextDue = 0;
  let late = 0;
  let misses = 0;
  return ({ now: t, firstStart, completedAt }) => {
    // Jobs are in arrival order; one whose target wait has run out is decided either way.
    while (nextNow < now.length && t - jobs[now[nextNow]].arrival > target.p95WaitNowSeconds) {
      const i = now[nextNow++];
      if (Number.isNaN(firstStart[i]) || firstStart[i] - jobs[i].arrival > target.p95WaitNowSeconds) late++;
    }
    while (nextDue < due.length && jobs[due[nextDue]].window!.deadline < t) {
      const i = due[nextDue++];
      if (!(completedAt[i] <= jobs[i].window!.deadline)) misses++;
    }
    return late > lateAllowed || misses > missesAllowed;
  };
}

export interface CapacityProbe {
  readonly factor: number;
  readonly gpus: number;
  readonly met: boolean;
  /** Hours into the run at which the probe stopped because the target could no longer be met; null if it ran to the end. */
  readonly stoppedAtHour: number | null;
}

export interface CapacityResult {
  /** The smallest fleet found that met the target; null when even the largest probed did not. */
  readonly gpus: number | null;
  readonly probes: readonly CapacityProbe[];
}

/** A probe's verdict: the full run's metrics, or the hour at which it stopped as a sure miss. */
export type ProbeRun = { readonly metrics: BaselineMetrics; readonly stoppedAtHour: null } | { readonly metrics: null; readonly stoppedAtHour: number };

/**
 * Bisection on the scale of the shared fleet, assuming more GPUs never hurt the service level.
 * Midpoints are geometric, so the answer is found to a relative precision whether the fleet
 * is a tenth or a hundredth of the one given: `steps` probes, each halving the interval's
 * log-width; the upper bound itself is probed last, and only if no probe below it met the target. `known` is a fleet already run (the scenario's own), which
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
  if (known && known.factor > low && known.factor < high) {
    const gpus = totalGpus(scaleFleet(base, known.factor));
    const met = meetsTarget(known.metrics, target);
    verdicts.set(gpus, met);
    if (met) (high = known.factor), (best = gpus);
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
    if (met) best = Math.min(best ?? Infinity, gpus);
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
  return { gpus: best, probes };
}
