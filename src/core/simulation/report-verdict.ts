import { Money } from '../money/money.js';
import type { CapacityResult } from './capacity.js';
import type { SimRun } from './engine.js';
import type { BaselineMetrics } from './metrics.js';

/**
 * The equal-fleet comparison and the verdict of a report: each shared baseline's figures on
 * each fleet, and each goal with its target, what was measured and whether it was met.
 */
const round = (x: number, places = 4) => Math.round(x * 10 ** places) / 10 ** places;

export interface VerdictRow {
  readonly goal: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | null;
}

/** One baseline's figures on one fleet (equal-fleet comparison). */
export interface FleetFigures {
  readonly baseline: string;
  readonly gpus: number;
  readonly fleetCostPerHour: string;
  readonly meetsTarget: boolean;
  readonly utilisation: number;
  readonly gpuHoursServed: number;
  readonly p95WaitNowSeconds: number;
  readonly p99WaitNowSeconds: number;
  readonly maxWaitNowSeconds: number;
  readonly completionRate: number;
  readonly deadlineHitRate: number | null;
  readonly deadlineHits: number;
  readonly windowedJobsDue: number;
  readonly jobsExpired: number;
  readonly preemptions: number;
  readonly preemptionsPerPreemptibleJobHour: number;
  readonly valueDelivered: string | null;
  readonly surplus: string | null;
  readonly charges: string;
  readonly uplift: string;
  readonly fees: string;
  readonly payouts: string;
  readonly pricePerGpuHour: BaselineMetrics['pricePerGpuHour'];
  /** fixed + now / preemptible + window price per GPU-hour. */
  readonly flexibilityRatio: number | null;
}

export function flexibilityRatio(m: Pick<BaselineMetrics, 'pricePerGpuHour'>): number | null {
  const flexible = m.pricePerGpuHour.preemptible_window;
  const fixedNow = m.pricePerGpuHour.fixed_now;
  return flexible && fixedNow && !new Money(flexible).isZero()
    ? round(new Money(fixedNow).dividedBy(flexible).toNumber(), 3)
    : null;
}

export function fleetFigures(m: BaselineMetrics, meets: boolean): FleetFigures {
  return {
    baseline: m.baseline,
    gpus: m.gpus,
    fleetCostPerHour: m.fleetCostPerHour,
    meetsTarget: meets,
    utilisation: round(m.utilisation),
    gpuHoursServed: round(m.gpuHoursServed, 3),
    p95WaitNowSeconds: m.p95WaitNowSeconds,
    p99WaitNowSeconds: m.p99WaitNowSeconds,
    maxWaitNowSeconds: m.maxWaitNowSeconds,
    completionRate: round(m.completionRate),
    deadlineHitRate: m.deadlineHitRate === null ? null : round(m.deadlineHitRate),
    deadlineHits: m.deadlineHits,
    windowedJobsDue: m.windowedJobsDue,
    jobsExpired: m.jobsExpired,
    preemptions: m.preemptions,
    preemptionsPerPreemptibleJobHour: round(m.preemptionsPerPreemptibleJobHour),
    valueDelivered: m.value?.delivered ?? null,
    surplus: m.value?.surplus ?? null,
    charges: m.charges,
    uplift: m.uplift,
    fees: m.fees,
    payouts: m.payouts,
    pricePerGpuHour: m.pricePerGpuHour,
    flexibilityRatio: flexibilityRatio(m),
  };
}

/** Input for one fleet of the equal-fleet comparison (run-simulation.ts FleetRun, by baseline). */
export interface FleetInput {
  readonly factor: number;
  readonly gpus: number;
  readonly costPerHour: number;
  readonly runs: ReadonlyMap<
    string,
    { readonly run: SimRun; readonly metrics: BaselineMetrics; readonly meetsTarget: boolean }
  >;
}

export interface VerdictInput {
  readonly baselines: readonly { run: SimRun; metrics: BaselineMetrics; capacity: CapacityResult | null }[];
  readonly fleets: readonly FleetInput[];
  readonly dedicatedCostPerHour: number;
  readonly limits: 'by-class' | 'identical';
}

export interface Verdict {
  readonly rows: VerdictRow[];
  /**
   * The fleet a baseline needs for the service target, as run in the equal-fleet comparison; null when none was
   * found.
   */
  readonly sizedFleet: (name: string) => FleetInput | null;
  readonly marketCostPerHour: number | null;
  readonly ratio: number | null;
  readonly ratioAtSized: number | null;
  readonly valueAtScenario: number | null;
  readonly valueAtPrioritySized: number | null;
}

export function buildVerdict(input: VerdictInput): Verdict {
  const byName = (name: string) => input.baselines.find((b) => b.run.scheduler === name);
  const market = byName('market')!;
  const ratio = flexibilityRatio(market.metrics);
  const limits = input.limits;
  const sizedFleet = (name: string) => {
    const gpus = byName(name)?.capacity?.gpus;
    return gpus == null ? null : (input.fleets.find((f) => f.gpus === gpus) ?? null);
  };
  const marketSized = sizedFleet('market');
  const marketCostPerHour = marketSized?.costPerHour ?? null;
  const ratioAtSized = marketSized ? flexibilityRatio(marketSized.runs.get('market')!.metrics) : null;
  const valueRatio = (fleet: FleetInput | null | undefined) => {
    const m = fleet?.runs.get('market')?.metrics.value;
    const p = fleet?.runs.get('priority')?.metrics.value;
    return m && p && new Money(p.delivered).greaterThan(0)
      ? round(new Money(m.delivered).dividedBy(p.delivered).toNumber(), 4)
      : null;
  };
  const scenarioFleet = input.fleets.find((f) => f.factor === 1);
  const valueAtScenario = valueRatio(scenarioFleet);
  const valueAtPrioritySized = valueRatio(sizedFleet('priority'));
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const times = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)}x`);
  const verdict: VerdictRow[] = [
    {
      goal: 'Pooling: fleet cost the market needs for the service target, against dedicated reservations ($/h at reserve)',
      target: '<= 80% of dedicated',
      measured:
        marketCostPerHour === null
          ? 'target not met on any fleet probed'
          : `${marketCostPerHour.toFixed(2)} / ${input.dedicatedCostPerHour.toFixed(2)} = ${pct(marketCostPerHour / input.dedicatedCostPerHour)}`,
      met: marketCostPerHour === null ? false : marketCostPerHour <= 0.8 * input.dedicatedCostPerHour,
    },
    {
      goal: "Value delivered, market / priority queue, on the scenario's fleet",
      target: '>= 1.20x',
      measured: times(valueAtScenario),
      met: valueAtScenario === null ? null : valueAtScenario >= 1.2,
    },
    {
      goal: "Value delivered, market / priority queue, on the priority queue's sized fleet",
      target: '>= 1.20x',
      measured: times(valueAtPrioritySized),
      met: valueAtPrioritySized === null ? null : valueAtPrioritySized >= 1.2,
    },
    {
      goal: `Flexibility ratio (fixed + now / preemptible + window, $ per GPU-hour), limits ${limits === 'identical' ? 'identical for every class' : 'drawn by class'}, scenario's fleet`,
      target: '>= 5x',
      measured: times(ratio),
      met: ratio === null ? null : ratio >= 5,
    },
    {
      goal: "The same, on the market's sized fleet",
      target: '>= 5x',
      measured: times(ratioAtSized),
      met: ratioAtSized === null ? null : ratioAtSized >= 5,
    },
    {
      goal: "Preemptions per preemptible job-hour on the scenario's fleet, market / priority queue (no goal is stated for it; reported beside the others)",
      target: 'n/a',
      measured: `${(byName('market')?.metrics.preemptionsPerPreemptibleJobHour ?? 0).toFixed(4)} / ${(byName('priority')?.metrics.preemptionsPerPreemptibleJobHour ?? 0).toFixed(4)}`,
      met: null,
    },
    ...input.baselines.slice(1).map((b) => {
      const fleet = sizedFleet(b.run.scheduler);
      return {
        goal: `${b.run.scheduler}: a fleet that meets the service target (p95 and p99 wait, completion, deadlines, GPU-hours)`,
        target: '<= dedicated fleet',
        measured: fleet ? `${fleet.gpus} GPUs, ${fleet.costPerHour.toFixed(2)} $/h` : 'none found',
        met: fleet !== null,
      };
    }),
  ];
  return { rows: verdict, sizedFleet, marketCostPerHour, ratio, ratioAtSized, valueAtScenario, valueAtPrioritySized };
}
