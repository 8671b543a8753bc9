import type { ScalingPolicy } from '../services/autoscaler.js';
import { marketClock, type ReplicaMarket } from './services-market.js';
import { measureService, type ServicePolicyMetrics } from './services-measures.js';
import { replayService, type ColdStartModel, type GatewayLimits } from './services-replay.js';
import type { DemandShape, ServiceDemand, ServiceTimeModel } from './services-trace.js';

/**
 * The services scenario: one endpoint, one demand, one market, three ways to provision it.
 * Every policy runs through the same replay (gateway, autoscaler, market), on the same requests
 * and the same price series; only the replica floor and ceiling and the replicas running at
 * time 0 differ, so the table compares like with like.
 */
export interface ServiceSettings extends GatewayLimits {
  readonly maxReplicas: number;
  /** The floor of the fixed-minimum policy. */
  readonly fixedMinReplicas: number;
  readonly targetConcurrency: number;
  readonly replicaConcurrency: number;
  readonly scaleDownDelaySeconds: number;
  readonly scaleToZeroAfterSeconds: number;
  readonly stableWindowSeconds: number;
  readonly panicWindowSeconds: number;
}

export interface ServicesScenario {
  readonly seed: number;
  readonly trace: { readonly name: string; readonly rows: number };
  readonly shape: DemandShape;
  readonly serviceTime: ServiceTimeModel;
  readonly service: ServiceSettings;
  readonly coldStart: ColdStartModel;
  readonly market: ReplicaMarket;
  readonly sloSeconds: number;
}

/** What a services run uses unless told otherwise (docs/simulation.md, "Services scenario"). */
export const SERVICES_DEFAULTS = {
  shape: { timeScale: 4, windowSeconds: 300, gapSeconds: 3600, traceSeconds: null },
  service: {
    maxReplicas: 6,
    fixedMinReplicas: 1,
    targetConcurrency: 4,
    replicaConcurrency: 8,
    scaleDownDelaySeconds: 300,
    scaleToZeroAfterSeconds: 600,
    stableWindowSeconds: 60,
    panicWindowSeconds: 6,
    maxPendingRequests: 100,
    pendingTimeoutSeconds: 120,
  },
  coldStart: { dispatchSeconds: 2, processStartSeconds: 40, readinessSeconds: 3 },
  sloSeconds: 30,
} as const satisfies Omit<ServicesScenario, 'seed' | 'trace' | 'serviceTime' | 'market' | 'shape'> & {
  shape: DemandShape;
};

export type PolicyName = 'scale-to-zero' | 'always-on' | 'fixed-minimum';

export interface PolicyResult {
  readonly policy: PolicyName;
  readonly description: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly replicasAtStart: number;
  readonly metrics: ServicePolicyMetrics;
  /** Always-on's GPU-hours minus this policy's. */
  readonly gpuHoursSavedVsAlwaysOn: number;
  /** That saving / always-on's GPU-hours. */
  readonly savedShare: number;
  /** Always-on's cost minus this policy's, 6 decimals. */
  readonly costSavedVsAlwaysOn: string;
}

export interface ServicesReport {
  readonly version: 1;
  readonly scenario: 'services';
  readonly seed: number;
  readonly trace: ServicesScenario['trace'];
  readonly demand: {
    readonly requests: number;
    readonly windows: number;
    readonly traceSecondsUsed: number;
    readonly replayHours: number;
    readonly shape: DemandShape;
    readonly serviceTime: ServiceTimeModel;
  };
  readonly service: ServiceSettings;
  readonly coldStart: ColdStartModel;
  readonly market: ReplicaMarket;
  readonly sloSeconds: number;
  readonly policies: readonly PolicyResult[];
  readonly definitions: Readonly<Record<string, string>>;
  readonly notes: readonly string[];
}

export const SERVICES_DEFINITIONS: Readonly<Record<string, string>> = {
  gpuHoursPaid:
    'sum over replica leases of (lease end - lease start) x GPUs; a lease starts when its bid wins a round and ends when the replica is removed (a draining one when its last request finishes)',
  gpuHoursSavedVsAlwaysOn: "always-on's GPU-hours minus this policy's (share: of always-on's)",
  requests: 'requests in the replayed demand (the same for every policy)',
  served: 'requests answered by a replica',
  rejected503: 'arrived with no replica ready while maxPendingRequests were already held',
  timedOut504: 'held pendingTimeoutSeconds with no replica ready',
  sloMisses: '503s + 504s + served requests whose latency exceeded the SLO (share: of requests)',
  latency:
    'arrival -> answer: held at the gateway + queued at the replica + service time; over served requests, nearest rank',
  coldStarts:
    'replicas that became ready after a bid (replicas running at time 0 excluded); from zero: asked for while no replica was ready',
  coldStartSeconds:
    'bid -> ready: market wait (fast round, or later rounds while outpriced) + dispatch + process start + readiness',
  marketWaitSeconds:
    'bid -> the round that placed it: the fast round, or a later one while the limit is below the index',
  bidsOutpriced: 'replica bids whose limit was below the pool index at their fast round',
  flaps: 'scale-ups decided within 2 x scaleDownDelaySeconds after a scale-down',
  cost: 'what the leases paid: per lease, min(its limit, pool index) x GPU-hours, summed exactly in micro-units, rounded half-even to 6 decimals',
};

export function runServicesScenario(scenario: ServicesScenario, demand: ServiceDemand): ServicesReport {
  const clock = marketClock(scenario.market);
  const s = scenario.service;
  const base: Omit<ScalingPolicy, 'minReplicas'> = {
    maxReplicas: s.maxReplicas,
    targetConcurrency: s.targetConcurrency,
    scaleDownDelaySeconds: s.scaleDownDelaySeconds,
    scaleToZeroAfterSeconds: s.scaleToZeroAfterSeconds,
    stableWindowSeconds: s.stableWindowSeconds,
    panicWindowSeconds: s.panicWindowSeconds,
  };
  const plans: { policy: PolicyName; description: string; min: number }[] = [
    { policy: 'scale-to-zero', description: 'minReplicas 0, autoscaled up to maxReplicas', min: 0 },
    { policy: 'always-on', description: 'minReplicas = maxReplicas, all running from the start', min: s.maxReplicas },
    {
      policy: 'fixed-minimum',
      description: `minReplicas ${s.fixedMinReplicas} always on, autoscaled above it`,
      min: Math.min(s.fixedMinReplicas, s.maxReplicas),
    },
  ];
  const runs = plans.map((plan) => {
    const run = replayService(
      demand,
      {
        policy: { ...base, minReplicas: plan.min },
        gateway: { maxPendingRequests: s.maxPendingRequests, pendingTimeoutSeconds: s.pendingTimeoutSeconds },
        replicaConcurrency: s.replicaConcurrency,
        coldStart: scenario.coldStart,
        warmReplicas: plan.min,
        gpusPerReplica: scenario.market.gpusPerReplica,
        tickSeconds: 1,
      },
      clock,
    );
    const metrics = measureService(run, {
      sloSeconds: scenario.sloSeconds,
      scaleDownDelaySeconds: s.scaleDownDelaySeconds,
      gpusPerReplica: scenario.market.gpusPerReplica,
    });
    return { plan, metrics };
  });
  const alwaysOn = runs.find((r) => r.plan.policy === 'always-on')!.metrics;
  const policies: PolicyResult[] = runs.map(({ plan, metrics }) => {
    const { costMoney, ...figures } = metrics;
    const saved = Math.round((alwaysOn.gpuHoursPaid - metrics.gpuHoursPaid) * 1000) / 1000;
    return {
      policy: plan.policy,
      description: plan.description,
      minReplicas: plan.min,
      maxReplicas: s.maxReplicas,
      replicasAtStart: plan.min,
      metrics: figures,
      gpuHoursSavedVsAlwaysOn: saved,
      savedShare: alwaysOn.gpuHoursPaid === 0 ? 0 : Math.round((saved / alwaysOn.gpuHoursPaid) * 1000) / 1000,
      costSavedVsAlwaysOn: alwaysOn.costMoney.minus(costMoney).toFixed(6),
    };
  });
  return {
    version: 1,
    scenario: 'services',
    seed: scenario.seed,
    trace: scenario.trace,
    demand: {
      requests: demand.requests.length,
      windows: demand.windows,
      traceSecondsUsed: demand.traceSecondsUsed,
      replayHours: Math.round((demand.horizonMs / 3_600_000) * 1000) / 1000,
      shape: scenario.shape,
      serviceTime: scenario.serviceTime,
    },
    service: s,
    coldStart: scenario.coldStart,
    market: scenario.market,
    sloSeconds: scenario.sloSeconds,
    policies,
    definitions: SERVICES_DEFINITIONS,
    notes: servicesNotes(scenario),
  };
}

function servicesNotes(scenario: ServicesScenario): string[] {
  const { shape, serviceTime: t, coldStart: c, market: m } = scenario;
  return [
    `Demand: ${scenario.trace.name}, cut into windows of ${shape.windowSeconds} trace seconds, each stretched ${shape.timeScale}x and followed by ${shape.gapSeconds} s of silence.`,
    `Service time per request: ${t.baseSeconds} s + ${t.prefillSecondsPerToken} s x ContextTokens + ${t.decodeSecondsPerToken} s x GeneratedTokens; a replica serves up to ${scenario.service.replicaConcurrency} at once at that speed, the rest queue at it.`,
    `Market: the service is a price taker; a replica bid wins a round when its limit (${m.maxPrice} per GPU-hour for the first max(minReplicas, 1) replicas, x 0.9 per rank above) is at least the pool index, an hourly series from the diurnal scenario's H100 us-east index; the fast round commits ${m.fastRoundSeconds} s after the bid, a bid that loses retries every ${m.roundSeconds} s; a lease pays min(limit, index) per GPU-hour and is not preempted.`,
    `Cold start after the lease: dispatch ${c.dispatchSeconds} s + process start ${c.processStartSeconds} s + readiness ${c.readinessSeconds} s. Always-on and fixed-minimum start with their floor already running and ready (provisioned before the replay); scale-to-zero starts at zero.`,
    `No random draws: the seed is recorded but the scenario does not depend on it.`,
  ];
}
