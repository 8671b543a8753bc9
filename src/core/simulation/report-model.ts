import { formatPrice } from '../money/money.js';
import {
  targetChecks,
  type CapacityProbe,
  type CapacityResult,
  type ServiceTarget,
  type TargetCheck,
} from './capacity.js';
import { buildVerdict, fleetFigures, type FleetFigures, type FleetInput, type VerdictRow } from './report-verdict.js';
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
  readonly fleet: {
    readonly gpus: number;
    readonly pools: readonly { gpuModel: string; region: string; nodes: number; gpus: number; reservePrice: string }[];
  };
  readonly demand: {
    readonly jobs: number;
    readonly gpuHours: number;
    readonly byTenant: Readonly<Record<string, { jobs: number; gpuHours: number }>>;
    readonly byClass: Readonly<Record<string, { jobs: number; gpuHours: number }>>;
  };
  readonly serviceTarget: ServiceTarget;
  /**
   * How limits were drawn: by flexibility class, or one distribution for every class (the scenario's
   * `identicalLimits`).
   */
  readonly limits: 'by-class' | 'identical';
  /** Each goal with its target, what was measured and whether it was met; report.html opens with it. */
  readonly verdict: readonly VerdictRow[];
  readonly baselines: readonly (BaselineMetrics & {
    capacityNeededGpus: number | null;
    /** The same fleet in money: GPUs x reserve per hour (dedicated: what it owns). */
    capacityNeededCostPerHour: number | null;
    capacityProbes: readonly CapacityProbe[];
    /** This run (the scenario's fleet; dedicated: its own) against each part of the service target. */
    targetChecks: readonly TargetCheck[];
  })[];
  /**
   * Every shared baseline run in full on the same fleets: the scenario's, the one each baseline
   * needs for the service target (`sizedFor`), and with `--equal-fleets visited` every size the
   * capacity searches probed. Fleet size in $/h at the reserve.
   */
  readonly equalFleet: readonly {
    readonly gpus: number;
    readonly factor: number;
    readonly costPerHour: number;
    readonly sizedFor: readonly string[];
    readonly baselines: readonly FleetFigures[];
  }[];
  /** Series of each shared baseline on the fleet it needs for the service target (the charts of the sized fleets). */
  readonly sizedSeries: Readonly<
    Record<
      string,
      {
        gpus: number;
        costPerHour: number;
        hours: readonly number[];
        utilisation: readonly (number | null)[];
        queue: readonly (number | null)[];
      }
    >
  >;
  readonly claims: {
    readonly pooling: {
      dedicatedGpus: number;
      marketGpus: number | null;
      saving: number | null;
      atLeast20Percent: boolean | null;
      dedicatedCostPerHour: number;
      marketCostPerHour: number | null;
      costSaving: number | null;
    };
    readonly flexibility: {
      preemptibleWindow: string | null;
      fixedNow: string | null;
      ratio: number | null;
      atLeast5x: boolean | null;
      ratioAtMarketSizedFleet: number | null;
    };
    /**
     * Value delivered by the market / by the priority queue, at the scenario's fleet and at the priority queue's
     * sized fleet.
     */
    readonly value: {
      atScenarioFleet: number | null;
      atPrioritySizedFleet: number | null;
      atLeast20PercentMore: boolean | null;
    };
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
    /**
     * The same, summed over the market's capacity-search probes: where non-zero, the capacity found can differ on a
     * rerun.
     */
    readonly probeRoundsAtTimeLimit: number;
    /** Leases that won their place back during a preemption notice. */
    readonly winBacks: number;
    /** Market rounds by how the core priced them (`lp`: lowest supporting prices; `levels`: its fallback). */
    readonly pricingMethods: Readonly<Record<string, number>>;
    /**
     * Lease-rounds whose unit price from the core differs from the settlement rule's (settle-lease.ts
     * leaseUnitPrice): 0 when coherent.
     */
    readonly unitPriceMismatches: number;
  };
  /** The market's prices per pool over the run, with what each figure means (`definitions`). */
  readonly prices: {
    readonly definitions: Readonly<Record<string, string>>;
    readonly pools: readonly PoolPriceSummary[];
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
    /** The pool index per pool (the published clearing price), bucket means. */
    readonly prices: Readonly<Record<string, readonly (number | null)[]>>;
    /** Per pool, the VWAP of the unit prices paid on its nodes, GPU-weighted bucket means; null where nothing ran. */
    readonly vwap: Readonly<Record<string, readonly (number | null)[]>>;
  };
  readonly timings: Readonly<Record<string, number>>;
}

export interface PoolPriceSummary {
  readonly pool: string;
  readonly meanIndex: number | null;
  readonly minIndex: number | null;
  readonly maxIndex: number | null;
  /** Mean unit price paid on the pool's nodes, weighted by GPUs x rounds; null when nothing ran there. */
  readonly vwap: number | null;
  /** GPU-hours of the placements and kept leases on the pool's nodes, as the rounds priced them (GPUs x period). */
  readonly soldGpuHours: number;
}

/** What the price figures of a report mean, written next to them in report.json and report.html. */
export const PRICE_DEFINITIONS: Readonly<Record<string, string>> = {
  nodePrice:
    "Each round prices every node per GPU-hour: its reserve plus the scarcity rent of its GPUs that round (market.md section 5a). Providers earn their node's price (less the fee) for every GPU-hour sold.",
  poolIndex:
    'The published clearing price of a pool (GPU model / region): the lowest node price among its nodes with a contestable GPU, else the lowest of the pool; what the most flexible 1-GPU bid pays there. The price series and meanIndex/minIndex/maxIndex are this index.',
  vwap: "Volume-weighted mean unit price actually paid on a pool's nodes by placements and kept leases (weighted by GPUs, and over the run by GPUs x rounds), beside the index.",
  unitPrice:
    "What a lease pays per GPU-hour: min(its limit, the GPU-weighted mean of its nodes' prices), repriced every round; for FIFO each node's reserve (no cap binds); for dedicated, reservations charge owned capacity instead.",
  charges:
    'What tenants paid: per lease and period, each node its price for the GPU-seconds run, unless the limit is below the mean node price, then the limit; six decimals, half-even (src/core/settlement/settle-lease.ts).',
  uplift:
    "What the market paid providers beyond the charges where a lease's limit capped its price: the providers still get the node prices. upliftShareOfCharges = uplift / charges.",
  fees: "The platform's fee: feePercent of the providers' gross (charges + uplift), per share, six decimals, half-even.",
  payouts: 'What providers received: gross - fee.',
  reconciliation:
    'charges + uplift = payouts + fees, exactly: every amount is summed in whole micro-units (bigint), and `balanced` says whether the two sides are equal.',
  paradoxicalRejections:
    "Per baseline with prices: losers = bid-rounds lost (each losing bid once per round); count = those the core listed as paradoxically rejected (they could take GPUs below their limit at the round's node prices and still lost: `indivisible` because a gang or contiguity made the allocation unpriceable without charging a winner above its limit, `idle_gpus` because GPUs priced at their reserve stayed idle); share = count / losers.",
  pricePerGpuHour: 'Charges / GPU-hours run, by flexibility class (uplift not included).',
  reserveShare: "Share of a class's GPU-hours run on nodes priced exactly at their reserve (no rent that round).",
};

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
    pricePerGpuHour[c] = hourUtc.map((h) =>
      u.gpuSeconds[h] > 0 ? round((u.spend[h] * 3600) / u.gpuSeconds[h]) : null,
    );
    reserveShare[c] = hourUtc.map((h) =>
      u.gpuSeconds[h] > 0 ? round(u.atReserveGpuSeconds[h] / u.gpuSeconds[h], 3) : null,
    );
  }
  return { hourUtc, gpuHours, pricePerGpuHour, reserveShare };
}
const round = (x: number, places = 4) => Math.round(x * 10 ** places) / 10 ** places;

/** Per pool: the index over the rounds, and the VWAP weighted by the GPUs each round sold there. */
function poolSummaries(run: SimRun): PoolPriceSummary[] {
  const name = (key: string) => key.replace('\u0000', '/');
  return [...run.series.prices].map(([key, index]) => {
    const seen = index.filter((v) => !Number.isNaN(v));
    const vwap = run.series.vwap.get(key) ?? [];
    const sold = run.series.soldGpus.get(key) ?? [];
    let volume = 0;
    let gpuRounds = 0;
    vwap.forEach((v, i) => {
      if (Number.isNaN(v) || !(sold[i] > 0)) return;
      volume += v * sold[i];
      gpuRounds += sold[i];
    });
    return {
      pool: name(key),
      meanIndex: seen.length ? round(seen.reduce((a, b) => a + b, 0) / seen.length) : null,
      minIndex: seen.length ? round(Math.min(...seen)) : null,
      maxIndex: seen.length ? round(Math.max(...seen)) : null,
      vwap: gpuRounds > 0 ? round(volume / gpuRounds) : null,
      soldGpuHours: round((gpuRounds * run.periodSeconds) / 3600, 3),
    };
  });
}

/** Bucket means weighted by `weights` (values that are NaN or weigh nothing are left out). */
function downsampleWeighted(values: readonly number[], weights: readonly number[], buckets: number): (number | null)[] {
  const size = Math.max(1, Math.ceil(values.length / buckets));
  const out: (number | null)[] = [];
  for (let i = 0; i < values.length; i += size) {
    let total = 0;
    let weight = 0;
    for (let k = i; k < Math.min(values.length, i + size); k++) {
      if (Number.isNaN(values[k]) || !(weights[k] > 0)) continue;
      total += values[k] * weights[k];
      weight += weights[k];
    }
    out.push(weight > 0 ? round(total / weight) : null);
  }
  return out;
}

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
    dedicatedCostPerHour: number;
    fleets: readonly FleetInput[];
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
  const pools = new Map<
    string,
    { gpuModel: string; region: string; nodes: number; gpus: number; reservePrice: string }
  >();
  for (const node of workload.nodes) {
    const key = `${node.gpuModel}/${node.region}`;
    const pool = pools.get(key) ?? {
      gpuModel: node.gpuModel,
      region: node.region,
      nodes: 0,
      gpus: 0,
      reservePrice: formatPrice(node.reservePrice),
    };
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
  const dedicated = input.baselines[0];
  const byName = (name: string) => input.baselines.find((b) => b.run.scheduler === name);
  const market = byName('market')!;
  const marketGpus = market.capacity?.gpus ?? null;
  const dedicatedGpus = dedicated.metrics.gpus;
  const flexible = market.metrics.pricePerGpuHour.preemptible_window;
  const fixedNow = market.metrics.pricePerGpuHour.fixed_now;
  const v = buildVerdict({
    baselines: input.baselines,
    fleets: input.fleets,
    dedicatedCostPerHour: input.dedicatedCostPerHour,
    limits: workload.limits ?? 'by-class',
  });
  const { sizedFleet, marketCostPerHour, ratioAtSized, valueAtScenario, valueAtPrioritySized } = v;
  const { ratio, rows: verdict } = v;
  const limits = workload.limits ?? 'by-class';
  const sizedSeries: Record<string, SimulationReport['sizedSeries'][string]> = {};
  for (const b of input.baselines.slice(1)) {
    const fleet = sizedFleet(b.run.scheduler);
    const run = fleet?.runs.get(b.run.scheduler)?.run;
    if (!fleet || !run) continue;
    sizedSeries[b.run.scheduler] = {
      gpus: fleet.gpus,
      costPerHour: round(fleet.costPerHour, 2),
      hours: downsample(
        run.series.t.map((t) => t / 3600),
        MAX_POINTS,
      ) as number[],
      utilisation: downsample(
        run.series.busyGpus.map((x) => x / Math.max(1, fleet.gpus)),
        MAX_POINTS,
      ),
      queue: downsample(run.series.queue, MAX_POINTS),
    };
  }
  // Runs drain past the horizon for as long as each needs: pad the shorter series so the buckets line up.
  const first = input.baselines.reduce((a, b) => (b.run.series.t.length > a.run.series.t.length ? b : a)).run.series;
  const padded = (values: readonly number[]) =>
    values.length < first.t.length
      ? [...values, ...new Array<number>(first.t.length - values.length).fill(NaN)]
      : values;
  const prices: Record<string, (number | null)[]> = {};
  for (const [key, values] of market.run.series.prices)
    prices[key.replace('\u0000', '/')] = downsample(padded(values), MAX_POINTS);
  const vwap: Record<string, (number | null)[]> = {};
  for (const [key, values] of market.run.series.vwap)
    vwap[key.replace('\u0000', '/')] = downsampleWeighted(
      padded(values),
      padded(market.run.series.soldGpus.get(key) ?? []),
      MAX_POINTS,
    );
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
      rounds: Math.ceil(workload.horizonSeconds / params.periodSeconds),
      feePercent: params.feePercent.toFixed(),
      preemptionPenalty: params.preemptionPenalty.toFixed(),
      minHoldSeconds: params.minHoldSeconds,
      preemptionNoticeSeconds: params.preemptionNoticeSeconds,
    },
    notes: workload.notes,
    fleet: { gpus: workload.nodes.reduce((a, n) => a + n.gpus, 0), pools: [...pools.values()] },
    demand: {
      jobs: workload.jobs.length,
      gpuHours: round(
        workload.jobs.reduce((a, j) => a + (j.gpus * j.runtimeSeconds) / 3600, 0),
        3,
      ),
      byTenant: tally((j) => j.tenant),
      byClass: Object.fromEntries(
        Object.entries(tally(flexibilityClass)).sort(
          ([a], [b]) => FLEXIBILITY_CLASSES.indexOf(a as never) - FLEXIBILITY_CLASSES.indexOf(b as never),
        ),
      ),
    },
    serviceTarget: input.target,
    limits,
    verdict,
    baselines: input.baselines.map((b) => ({
      ...b.metrics,
      utilisation: round(b.metrics.utilisation),
      gpuHoursServed: round(b.metrics.gpuHoursServed, 3),
      gpuHoursDemanded: round(b.metrics.gpuHoursDemanded, 3),
      meanWaitSeconds: round(b.metrics.meanWaitSeconds, 1),
      preemptionsPerJobHour: round(b.metrics.preemptionsPerJobHour),
      preemptionsPerPreemptibleJobHour: round(b.metrics.preemptionsPerPreemptibleJobHour),
      completionRate: round(b.metrics.completionRate),
      deadlineHitRate: b.metrics.deadlineHitRate === null ? null : round(b.metrics.deadlineHitRate),
      solveMs: {
        mean: round(b.metrics.solveMs.mean, 2),
        p95: round(b.metrics.solveMs.p95, 2),
        max: round(b.metrics.solveMs.max, 2),
      },
      byClass:
        b.metrics.byClass &&
        (Object.fromEntries(
          Object.entries(b.metrics.byClass).map(([c, f]) => [
            c,
            {
              gpuHours: round(f.gpuHours, 3),
              meanLimit: f.meanLimit === null ? null : round(f.meanLimit),
              reserveShare: f.reserveShare === null ? null : round(f.reserveShare),
              upliftShare: f.upliftShare === null ? null : round(f.upliftShare, 6),
            },
          ]),
        ) as BaselineMetrics['byClass']),
      upliftShareOfCharges: b.metrics.upliftShareOfCharges === null ? null : round(b.metrics.upliftShareOfCharges, 6),
      paradoxicalRejections: b.metrics.paradoxicalRejections && {
        ...b.metrics.paradoxicalRejections,
        share: b.metrics.paradoxicalRejections.share === null ? null : round(b.metrics.paradoxicalRejections.share, 6),
      },
      capacityNeededGpus: b.capacity?.gpus ?? null,
      capacityNeededCostPerHour:
        b === dedicated
          ? round(input.dedicatedCostPerHour, 6)
          : (() => {
              const gpus = b.capacity?.gpus;
              const fleet = gpus == null ? undefined : input.fleets.find((f) => f.gpus === gpus);
              return fleet ? round(fleet.costPerHour, 6) : null;
            })(),
      targetChecks: targetChecks(b.metrics, input.target),
      capacityProbes: b.capacity?.probes.map((p) => ({ ...p, factor: round(p.factor) })) ?? [],
    })),
    claims: {
      pooling: {
        dedicatedGpus,
        marketGpus,
        saving: marketGpus === null ? null : round(1 - marketGpus / dedicatedGpus),
        atLeast20Percent: marketGpus === null ? null : marketGpus <= 0.8 * dedicatedGpus,
        dedicatedCostPerHour: round(input.dedicatedCostPerHour, 6),
        marketCostPerHour: marketCostPerHour === null ? null : round(marketCostPerHour, 6),
        costSaving: marketCostPerHour === null ? null : round(1 - marketCostPerHour / input.dedicatedCostPerHour),
      },
      flexibility: {
        preemptibleWindow: flexible,
        fixedNow,
        ratio,
        atLeast5x: ratio === null ? null : ratio >= 5,
        ratioAtMarketSizedFleet: ratioAtSized,
      },
      value: {
        atScenarioFleet: valueAtScenario,
        atPrioritySizedFleet: valueAtPrioritySized,
        atLeast20PercentMore: valueAtScenario === null ? null : valueAtScenario >= 1.2,
      },
    },
    equalFleet: input.fleets.map((f) => ({
      gpus: f.gpus,
      factor: round(f.factor),
      costPerHour: round(f.costPerHour, 6),
      sizedFor: input.baselines
        .slice(1)
        .filter((b) => b.capacity?.gpus === f.gpus)
        .map((b) => b.run.scheduler),
      baselines: [...f.runs.values()].map((r) => fleetFigures(r.metrics, r.meetsTarget)),
    })),
    sizedSeries,
    clearing: {
      options: input.clearOptions,
      ...input.clearing,
      winBacks: market.run.winBacks,
      pricingMethods: { ...(market.run.pricing?.methods ?? {}) },
      unitPriceMismatches: market.run.pricing?.unitPriceMismatches ?? 0,
    },
    prices: { definitions: PRICE_DEFINITIONS, pools: poolSummaries(market.run) },
    marketByHour: byHour(market.run),
    series: {
      hours: downsample(
        first.t.map((t) => t / 3600),
        MAX_POINTS,
      ) as number[],
      utilisation: Object.fromEntries(
        input.baselines.map((b) => [
          b.run.scheduler,
          downsample(padded(b.run.series.busyGpus.map((x) => x / gpusOf(b))), MAX_POINTS),
        ]),
      ),
      queue: Object.fromEntries(
        input.baselines.map((b) => [b.run.scheduler, downsample(padded(b.run.series.queue), MAX_POINTS)]),
      ),
      prices,
      vwap,
    },
    timings: input.timings,
  };
}
