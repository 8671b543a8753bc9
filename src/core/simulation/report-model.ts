import { formatPrice, Money } from '../money/money.js';
import type { CapacityProbe, CapacityResult, ServiceTarget } from './capacity.js';
import type { SimRun } from './engine.js';
import type { ClearOptionsLike } from './market-scheduler.js';
import type { BaselineMetrics } from './metrics.js';
import { FLEXIBILITY_CLASSES, flexibilityClass, type Workload } from './workload.js';

/** report.json: everything but `timings` is a function of the workload and seed. */
export interface SimulationReport {
  readonly version: 1;
  readonly scenario: {
    readonly name: string;
    readonly description: string;
    readonly seed: number;
    readonly epoch: string;
    readonly hours: number;
    readonly periodSeconds: number;
    readonly rounds: number;
    readonly feePercent: string;
    readonly preemptionPenalty: string;
    readonly minHoldSeconds: number;
    readonly preemptionNoticeSeconds: number;
  };
  readonly notes: readonly string[];
  readonly fleet: { readonly gpus: number; readonly pools: readonly { gpuModel: string; region: string; nodes: number; gpus: number; reservePrice: string }[] };
  readonly demand: {
    readonly jobs: number;
    readonly gpuHours: number;
    readonly byTenant: Readonly<Record<string, { jobs: number; gpuHours: number }>>;
    readonly byClass: Readonly<Record<string, { jobs: number; gpuHours: number }>>;
  };
  readonly serviceTarget: ServiceTarget;
  readonly baselines: readonly (BaselineMetrics & { capacityNeededGpus: number | null; capacityProbes: readonly CapacityProbe[] })[];
  readonly claims: {
    readonly pooling: { dedicatedGpus: number; marketGpus: number | null; saving: number | null; atLeast20Percent: boolean | null };
    readonly flexibility: { preemptibleWindow: string | null; fixedNow: string | null; ratio: number | null; atLeast5x: boolean | null };
  };
  readonly clearing: {
    readonly options: ClearOptionsLike;
    readonly status: Record<string, number>;
    readonly losses: Record<string, number>;
    /** Rounds where the configured solver threw and the core's greedy mode cleared the round instead. */
    readonly failures: readonly { roundId: string; message: string }[];
  };
  readonly series: {
    readonly hours: readonly number[];
    readonly utilisation: Readonly<Record<string, readonly (number | null)[]>>;
    readonly queue: Readonly<Record<string, readonly (number | null)[]>>;
    readonly prices: Readonly<Record<string, readonly (number | null)[]>>;
  };
  readonly timings: Readonly<Record<string, number>>;
}

const MAX_POINTS = 288;
const round = (x: number, places = 4) => Math.round(x * 10 ** places) / 10 ** places;

/** Bucket means, so a week of one-minute rounds still draws as a readable line. */
function downsample(values: readonly number[], buckets: number): (number | null)[] {
  const size = Math.max(1, Math.ceil(values.length / buckets));
  const out: (number | null)[] = [];
  for (let i = 0; i < values.length; i += size) {
    const slice = values.slice(i, i + size).filter((v) => !Number.isNaN(v));
    out.push(slice.length ? round(slice.reduce((a, b) => a + b, 0) / slice.length) : null);
  }
  return out;
}

export function buildReport(
  workload: Workload,
  input: {
    seed: number;
    clearOptions: ClearOptionsLike;
    target: ServiceTarget;
    baselines: readonly { run: SimRun; metrics: BaselineMetrics; capacity: CapacityResult | null }[];
    clearing: { status: Record<string, number>; losses: Record<string, number>; failures: { roundId: string; message: string }[] };
    timings: Record<string, number>;
  },
): SimulationReport {
  const { params } = workload;
  const pools = new Map<string, { gpuModel: string; region: string; nodes: number; gpus: number; reservePrice: string }>();
  for (const node of workload.nodes) {
    const key = `${node.gpuModel}/${node.region}`;
    const pool = pools.get(key) ?? { gpuModel: node.gpuModel, region: node.region, nodes: 0, gpus: 0, reservePrice: formatPrice(node.reservePrice) };
    pool.nodes++;
    pool.gpus += node.gpus;
    pools.set(key, pool);
  }
  const tally = (key: (j: Workload['jobs'][number]) => string) => {
    const out: Record<string, { jobs: number; gpuHours: number }> = {};
    for (const job of workload.jobs) {
      const entry = (out[key(job)] ??= { jobs: 0, gpuHours: 0 });
      entry.jobs++;
      entry.gpuHours = round(entry.gpuHours + (job.gpus * job.runtimeSeconds) / 3600, 3);
    }
    return out;
  };
  const [dedicated, , market] = input.baselines;
  const marketGpus = market.capacity?.gpus ?? null;
  const dedicatedGpus = dedicated.metrics.gpus;
  const flexible = market.metrics.pricePerGpuHour.preemptible_window;
  const fixedNow = market.metrics.pricePerGpuHour.fixed_now;
  const ratio = flexible && fixedNow && !new Money(flexible).isZero() ? round(new Money(fixedNow).dividedBy(flexible).toNumber(), 3) : null;
  const first = input.baselines[0].run.series;
  const prices: Record<string, (number | null)[]> = {};
  for (const [key, values] of market.run.series.prices) prices[key.replace('\u0000', '/')] = downsample(values, MAX_POINTS);
  const gpusOf = (b: (typeof input.baselines)[number]) => Math.max(1, b.metrics.gpus);
  return {
    version: 1,
    scenario: {
      name: workload.name,
      description: workload.description,
      seed: input.seed,
      epoch: workload.epoch,
      hours: round(workload.horizonSeconds / 3600, 3),
      periodSeconds: params.periodSeconds,
      rounds: first.t.length,
      feePercent: params.feePercent.toFixed(),
      preemptionPenalty: params.preemptionPenalty.toFixed(),
      minHoldSeconds: params.minHoldSeconds,
      preemptionNoticeSeconds: params.preemptionNoticeSeconds,
    },
    notes: workload.notes,
    fleet: { gpus: workload.nodes.reduce((a, n) => a + n.gpus, 0), pools: [...pools.values()] },
    demand: {
      jobs: workload.jobs.length,
      gpuHours: round(workload.jobs.reduce((a, j) => a + (j.gpus * j.runtimeSeconds) / 3600, 0), 3),
      byTenant: tally((j) => j.tenant),
      byClass: Object.fromEntries(Object.entries(tally(flexibilityClass)).sort(([a], [b]) => FLEXIBILITY_CLASSES.indexOf(a as never) - FLEXIBILITY_CLASSES.indexOf(b as never))),
    },
    serviceTarget: input.target,
    baselines: input.baselines.map((b) => ({
      ...b.metrics,
      utilisation: round(b.metrics.utilisation),
      gpuHoursServed: round(b.metrics.gpuHoursServed, 3),
      gpuHoursDemanded: round(b.metrics.gpuHoursDemanded, 3),
      meanWaitSeconds: round(b.metrics.meanWaitSeconds, 1),
      preemptionsPerJobHour: round(b.metrics.preemptionsPerJobHour),
      deadlineHitRate: b.metrics.deadlineHitRate === null ? null : round(b.metrics.deadlineHitRate),
      solveMs: { mean: round(b.metrics.solveMs.mean, 2), p95: round(b.metrics.solveMs.p95, 2), max: round(b.metrics.solveMs.max, 2) },
      capacityNeededGpus: b.capacity?.gpus ?? null,
      capacityProbes: b.capacity?.probes.map((p) => ({ ...p, factor: round(p.factor) })) ?? [],
    })),
    claims: {
      pooling: {
        dedicatedGpus,
        marketGpus,
        saving: marketGpus === null ? null : round(1 - marketGpus / dedicatedGpus),
        atLeast20Percent: marketGpus === null ? null : marketGpus <= 0.8 * dedicatedGpus,
      },
      flexibility: { preemptibleWindow: flexible, fixedNow, ratio, atLeast5x: ratio === null ? null : ratio >= 5 },
    },
    clearing: { options: input.clearOptions, ...input.clearing },
    series: {
      hours: downsample(first.t.map((t) => t / 3600), MAX_POINTS) as number[],
      utilisation: Object.fromEntries(input.baselines.map((b) => [b.run.scheduler, downsample(b.run.series.busyGpus.map((x) => x / gpusOf(b)), MAX_POINTS)])),
      queue: Object.fromEntries(input.baselines.map((b) => [b.run.scheduler, downsample(b.run.series.queue, MAX_POINTS)])),
      prices,
    },
    timings: input.timings,
  };
}
