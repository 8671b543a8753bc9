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
    /**
     * Rounds of the market run whose clearing ran to its wall-clock limit (--time-limit-ms): their
     * allocation depends on the machine's speed, so a rerun can differ there and after. Zero means
     * the run is reproducible.
     */
    readonly roundsAtTimeLimit: { readonly count: number; readonly first: readonly string[] };
    /** The same, summed over the market's capacity-search probes: where non-zero, the capacity found can differ on a rerun. */
    readonly probeRoundsAtTimeLimit: number;
    /** Leases that won their place back during a preemption notice. */
    readonly winBacks: number;
  };
  /** When each flexibility class ran in the market and what it paid, by UTC hour of day. */
  readonly marketByHour: {
    readonly hourUtc: readonly number[];
    readonly gpuHours: Readonly<Record<string, readonly number[]>>;
    readonly pricePerGpuHour: Readonly<Record<string, readonly (number | null)[]>>;
    readonly reserveShare: Readonly<Record<string, readonly (number | null)[]>>;
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

function byHour(run: SimRun): SimulationReport['marketByHour'] {
  const hourUtc = Array.from({ length: 24 }, (_, h) => h);
  const gpuHours: Record<string, number[]> = {};
  const pricePerGpuHour: Record<string, (number | null)[]> = {};
  const reserveShare: Record<string, (number | null)[]> = {};
  for (const c of FLEXIBILITY_CLASSES) {
    const u = run.usageByHour.get(c);
    if (!u) continue;
    gpuHours[c] = hourUtc.map((h) => round(u.gpuSeconds[h] / 3600, 2));
    pricePerGpuHour[c] = hourUtc.map((h) => (u.gpuSeconds[h] > 0 ? round((u.spend[h] * 3600) / u.gpuSeconds[h]) : null));
    reserveShare[c] = hourUtc.map((h) => (u.gpuSeconds[h] > 0 ? round(u.atReserveGpuSeconds[h] / u.gpuSeconds[h], 3) : null));
  }
  return { hourUtc, gpuHours, pricePerGpuHour, reserveShare };
}
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
    clearing: {
      status: Record<string, number>;
      losses: Record<string, number>;
      failures: { roundId: string; message: string }[];
      roundsAtTimeLimit: { count: number; first: string[] };
      probeRoundsAtTimeLimit: number;
    };
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
      byClass:
        b.metrics.byClass &&
        (Object.fromEntries(
          Object.entries(b.metrics.byClass).map(([c, f]) => [
            c,
            { gpuHours: round(f.gpuHours, 3), meanLimit: f.meanLimit === null ? null : round(f.meanLimit), reserveShare: f.reserveShare === null ? null : round(f.reserveShare) },
          ]),
        ) as BaselineMetrics['byClass']),
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
    clearing: { options: input.clearOptions, ...input.clearing, winBacks: market.run.winBacks },
    marketByHour: byHour(market.run),
    series: {
      hours: downsample(first.t.map((t) => t / 3600), MAX_POINTS) as number[],
      utilisation: Object.fromEntries(input.baselines.map((b) => [b.run.scheduler, downsample(b.run.series.busyGpus.map((x) => x / gpusOf(b)), MAX_POINTS)])),
      queue: Object.fromEntries(input.baselines.map((b) => [b.run.scheduler, downsample(b.run.series.queue, MAX_POINTS)])),
      prices,
    },
    timings: input.timings,
  };
}
