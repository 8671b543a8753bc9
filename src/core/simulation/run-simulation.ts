import {
  dedicatedFleet,
  fleetCostPerHour,
  meanLoadFactor,
  meetsTarget,
  scaleFleet,
  searchCapacity,
  serviceTarget,
  targetStopRule,
  totalGpus,
  type CapacityResult,
  type ProbeRun,
} from './capacity.js';
import { PriorityScheduler } from './priority-scheduler.js';
import { simulate, type SimRun } from './engine.js';
import { FirstFitScheduler } from './first-fit-scheduler.js';
import { MarketScheduler, type ClearOptionsLike, type ClearRound } from './market-scheduler.js';
import { computeMetrics, type BaselineMetrics } from './metrics.js';
import { buildReport, type SimulationReport } from './report-model.js';
import type { MarketNode, RoundSnapshot } from '../market/types.js';
import type { Scheduler } from './scheduler.js';
import type { Workload } from './workload.js';

/** What `gpumarket simulate` uses unless told otherwise; the benchmark measures the same. */
export const SIMULATION_DEFAULTS = {
  /**
   * Rounds clear in the core's deterministic mode (same seed, same report); this only caps a
   * runaway round, and rounds that reach it are listed in the report (clearing.roundsAtTimeLimit).
   */
  timeLimitMs: 10_000,
  /** Also for the trace: with probes that stop once they miss, its search takes about as long as the replay itself. */
  capacitySteps: 5,
} as const;

export interface SimulationOptions {
  readonly seed: number;
  readonly clear: ClearRound;
  readonly clearOptions: ClearOptionsLike;
  /** Bisection steps for the capacity search (0: no search, capacity is reported only for dedicated). */
  readonly capacitySteps: number;
  /**
   * Which fleets every shared baseline is run on in full, for the equal-fleet comparison:
   * `sized` (default) the scenario's fleet and the fleet each baseline needs for the service
   * target; `visited` also every fleet size the capacity searches probed.
   */
  readonly equalFleets?: 'sized' | 'visited';
  readonly log?: (line: string) => void;
}

/** One shared baseline run in full on one fleet: the figures the equal-fleet comparison reads. */
export interface FleetRun {
  readonly factor: number;
  readonly gpus: number;
  readonly costPerHour: number;
  readonly run: SimRun;
  readonly metrics: BaselineMetrics;
  readonly meetsTarget: boolean;
}

const SHARED = ['fifo', 'priority', 'market'] as const;

export interface BaselineRun {
  readonly run: SimRun;
  readonly metrics: BaselineMetrics;
  readonly capacity: CapacityResult | null;
}

/**
 * The three baselines on the same demand: dedicated reservations sized to each tenant's own
 * peak, one shared FIFO pool, and the market, both on the workload's fleet; then, for the
 * shared ones, the smallest fleet that matches the dedicated service level.
 */
export async function runSimulation(
  workload: Workload,
  options: SimulationOptions,
): Promise<{ readonly report: SimulationReport; readonly failedRounds: readonly RoundSnapshot[] }> {
  const log = options.log ?? (() => {});
  const epochMs = Date.parse(workload.epoch);
  const wallStart = performance.now();
  const timings: Record<string, number> = {};
  const probeSchedulers: MarketScheduler[] = [];
  const market = () =>
    new MarketScheduler(options.clear, workload.params, { ...options.clearOptions, seed: options.seed }, epochMs);
  const probeMarket = () => {
    const scheduler = market();
    probeSchedulers.push(scheduler);
    return scheduler;
  };
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await work();
    timings[label] = Math.round(performance.now() - t0);
    log(`${label}: ${timings[label]} ms`);
    return out;
  };

  const notice = workload.params.preemptionNoticeSeconds;
  const schedulerFor = (name: (typeof SHARED)[number], nodes: readonly MarketNode[], forProbe: boolean): Scheduler =>
    name === 'fifo'
      ? new FirstFitScheduler('fifo', 'list', nodes)
      : name === 'priority'
        ? new PriorityScheduler(nodes, notice)
        : forProbe
          ? probeMarket()
          : market();

  const dedicated = dedicatedFleet(workload);
  const dedicatedRun = await timed('dedicated', () =>
    simulate(
      workload,
      dedicated.nodes,
      new FirstFitScheduler('dedicated', 'reserved', dedicated.nodes, dedicated.owner),
      { nodeOwner: dedicated.owner },
    ),
  );
  const target = serviceTarget(computeMetrics(workload, dedicatedRun), workload.params.periodSeconds);
  // Value counts work without a window only where it started within the service target's p95 wait.
  const measure = (run: SimRun) => computeMetrics(workload, run, target.p95WaitNowSeconds);
  const dedicatedMetrics = measure(dedicatedRun);
  const marketScheduler = market();
  const own = new Map<string, { run: SimRun; metrics: BaselineMetrics }>();
  for (const name of SHARED) {
    const run = await timed(name, () =>
      simulate(
        workload,
        workload.nodes,
        name === 'market' ? marketScheduler : schedulerFor(name, workload.nodes, false),
      ),
    );
    own.set(name, { run, metrics: measure(run) });
  }

  const capacity = new Map<string, CapacityResult | null>(SHARED.map((n) => [n, null]));
  const base = workload.nodes;
  // A probe that ran to the end is the full run on its fleet (its stop rule never fired): the
  // equal-fleet comparison reuses it instead of replaying the same deterministic run again.
  const fullRuns = new Map<string, SimRun>();
  const fleetKey = (name: string, nodes: readonly MarketNode[]) => `${name}\u0000${nodes.map((n) => n.id).join(',')}`;
  if (options.capacitySteps > 0) {
    const high = Math.max(1, totalGpus(dedicated.nodes) / Math.max(1, totalGpus(base)));
    const bounds = { low: Math.min(high, meanLoadFactor(workload, base)), high, steps: options.capacitySteps };
    const stop = () => targetStopRule(workload, target);
    const probeRun = async (name: string, nodes: MarketNode[], scheduler: Scheduler): Promise<ProbeRun> => {
      const run = await simulate(workload, nodes, scheduler, { stop: stop() });
      if (run.stoppedAt === null) fullRuns.set(fleetKey(name, nodes), run);
      return run.stoppedAt === null
        ? { metrics: measure(run), stoppedAtHour: null }
        : { metrics: null, stoppedAtHour: (run.stoppedAt * workload.params.periodSeconds) / 3600 };
    };
    for (const name of SHARED) {
      const result = await timed(`capacity:${name}`, () =>
        searchCapacity(base, (nodes) => probeRun(name, nodes, schedulerFor(name, nodes, true)), target, bounds, {
          factor: 1,
          metrics: own.get(name)!.metrics,
        }),
      );
      capacity.set(name, result);
    }
  }

  // Equal fleets: every shared baseline in full on the scenario's fleet and on each sized one (and, if asked, on
  // every probed one).
  const factors = new Map<number, number>([[totalGpus(base), 1]]);
  for (const result of capacity.values()) {
    if (result?.factor != null) factors.set(totalGpus(scaleFleet(base, result.factor)), result.factor);
    if (options.equalFleets === 'visited')
      for (const p of result?.probes ?? []) if (!factors.has(p.gpus)) factors.set(p.gpus, p.factor);
  }
  const fleets: { factor: number; gpus: number; costPerHour: number; runs: Map<string, FleetRun> }[] = [];
  for (const [gpus, factor] of [...factors].sort((a, b) => a[0] - b[0])) {
    const nodes = factor === 1 ? base : scaleFleet(base, factor);
    const costPerHour = fleetCostPerHour(nodes);
    const runs = new Map<string, FleetRun>();
    for (const name of SHARED) {
      const known = factor === 1 ? own.get(name)! : null;
      const probed = fullRuns.get(fleetKey(name, nodes));
      const run =
        known?.run ??
        probed ??
        (await timed(`fleet:${gpus}:${name}`, () => simulate(workload, nodes, schedulerFor(name, nodes, true))));
      const metrics = known?.metrics ?? measure(run);
      runs.set(name, { factor, gpus, costPerHour, run, metrics, meetsTarget: meetsTarget(metrics, target) });
    }
    fleets.push({ factor, gpus, costPerHour, runs });
  }
  timings.total = Math.round(performance.now() - wallStart);
  const report = buildReport(workload, {
    seed: options.seed,
    clearOptions: options.clearOptions,
    target,
    baselines: [
      {
        run: dedicatedRun,
        metrics: dedicatedMetrics,
        capacity: { gpus: totalGpus(dedicated.nodes), factor: null, probes: [] },
      },
      ...SHARED.map((name) => ({ ...own.get(name)!, capacity: capacity.get(name)! })),
    ],
    dedicatedCostPerHour: fleetCostPerHour(dedicated.nodes),
    fleets,
    clearing: {
      status: Object.fromEntries(marketScheduler.statusCounts),
      losses: Object.fromEntries(marketScheduler.lossCounts),
      failures: marketScheduler.failures.map((f) => ({ roundId: f.roundId, message: f.message })),
      roundsAtTimeLimit: {
        count: marketScheduler.roundsAtTimeLimit.length,
        first: marketScheduler.roundsAtTimeLimit.slice(0, 20),
      },
      probeRoundsAtTimeLimit: probeSchedulers.reduce((t, p) => t + p.roundsAtTimeLimit.length, 0),
    },
    timings,
  });
  // Not part of report.json: the shell writes them out as snapshot files for `gpumarket clear`.
  return { report, failedRounds: marketScheduler.failures.slice(0, 5).map((f) => f.snapshot) };
}
