import { dedicatedFleet, meanLoadFactor, searchCapacity, serviceTarget, targetStopRule, totalGpus, type CapacityResult, type ProbeRun } from './capacity.js';
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
  readonly log?: (line: string) => void;
}

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
  const market = () => new MarketScheduler(options.clear, workload.params, { ...options.clearOptions, seed: options.seed }, epochMs);
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

  const dedicated = dedicatedFleet(workload);
  const dedicatedRun = await timed('dedicated', () =>
    simulate(workload, dedicated.nodes, new FirstFitScheduler('dedicated', 'reserved', dedicated.nodes, dedicated.owner), { nodeOwner: dedicated.owner }),
  );
  const fifoRun = await timed('fifo', () => simulate(workload, workload.nodes, new FirstFitScheduler('fifo', 'list', workload.nodes)));
  const marketScheduler = market();
  const marketRun = await timed('market', () => simulate(workload, workload.nodes, marketScheduler));
  const dedicatedMetrics = computeMetrics(workload, dedicatedRun);
  const fifoMetrics = computeMetrics(workload, fifoRun);
  const marketMetrics = computeMetrics(workload, marketRun);
  const target = serviceTarget(dedicatedMetrics, workload.params.periodSeconds);

  let fifoCapacity: CapacityResult | null = null;
  let marketCapacity: CapacityResult | null = null;
  if (options.capacitySteps > 0) {
    const base = workload.nodes;
    const high = Math.max(1, totalGpus(dedicated.nodes) / Math.max(1, totalGpus(base)));
    const bounds = { low: Math.min(high, meanLoadFactor(workload, base)), high, steps: options.capacitySteps };
    const stop = () => targetStopRule(workload, target);
    const probeRun = async (nodes: MarketNode[], scheduler: Scheduler): Promise<ProbeRun> => {
      const run = await simulate(workload, nodes, scheduler, { stop: stop() });
      return run.stoppedAt === null
        ? { metrics: computeMetrics(workload, run), stoppedAtHour: null }
        : { metrics: null, stoppedAtHour: (run.stoppedAt * workload.params.periodSeconds) / 3600 };
    };
    fifoCapacity = await timed('capacity:fifo', () =>
      searchCapacity(base, (nodes) => probeRun(nodes, new FirstFitScheduler('fifo', 'list', nodes)), target, bounds, { factor: 1, metrics: fifoMetrics }),
    );
    marketCapacity = await timed('capacity:market', () =>
      searchCapacity(base, (nodes) => probeRun(nodes, probeMarket()), target, bounds, { factor: 1, metrics: marketMetrics }),
    );
  }
  timings.total = Math.round(performance.now() - wallStart);
  const report = buildReport(workload, {
    seed: options.seed,
    clearOptions: options.clearOptions,
    target,
    baselines: [
      { run: dedicatedRun, metrics: dedicatedMetrics, capacity: { gpus: totalGpus(dedicated.nodes), probes: [] } },
      { run: fifoRun, metrics: fifoMetrics, capacity: fifoCapacity },
      { run: marketRun, metrics: marketMetrics, capacity: marketCapacity },
    ],
    clearing: {
      status: Object.fromEntries(marketScheduler.statusCounts),
      losses: Object.fromEntries(marketScheduler.lossCounts),
      failures: marketScheduler.failures.map((f) => ({ roundId: f.roundId, message: f.message })),
      roundsAtTimeLimit: { count: marketScheduler.roundsAtTimeLimit.length, first: marketScheduler.roundsAtTimeLimit.slice(0, 20) },
      probeRoundsAtTimeLimit: probeSchedulers.reduce((t, p) => t + p.roundsAtTimeLimit.length, 0),
    },
    timings,
  });
  // Not part of report.json: the shell writes them out as snapshot files for `gpumarket clear`.
  return { report, failedRounds: marketScheduler.failures.slice(0, 5).map((f) => f.snapshot) };
}
