import type { Money } from '../money/money.js';
import { chargeToMoney } from './services-market.js';
import type { DecisionRecord, ServiceRun } from './services-replay.js';

/**
 * The figures of one policy's replay, each defined where it is computed (docs/simulation.md,
 * "Services scenario", repeats the definitions next to the results).
 */
export interface ServicePolicyMetrics {
  /** Sum over the replicas' leases of (lease end - lease start) x GPUs: from the winning round to the lease's end. */
  readonly gpuHoursPaid: number;
  readonly requests: number;
  /** Requests that got an answer from a replica. */
  readonly served: number;
  /** Arrived while no replica was ready and maxPendingRequests were already held. */
  readonly rejected503: number;
  /** Held pendingTimeoutSeconds without a ready replica. */
  readonly timedOut504: number;
  /** 503s + 504s + served requests whose latency exceeded the SLO. */
  readonly sloMisses: number;
  readonly sloMissShare: number;
  /** Arrival -> answer (held + queued at the replica + service time), seconds, nearest rank, over served requests. */
  readonly latencySeconds: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
  /** Replicas that got ready after a bid (not the ones already running at time 0). */
  readonly coldStarts: number;
  /** Of those, the ones asked for while no replica was ready. */
  readonly coldStartsFromZero: number;
  /** Bid -> ready (market wait + dispatch + process start + readiness), seconds. */
  readonly coldStartSeconds: { readonly mean: number | null; readonly max: number | null };
  /** Bid -> the round that placed it (the fast round, or a later one while outpriced), seconds. */
  readonly marketWaitSeconds: { readonly mean: number | null; readonly max: number | null };
  /** Replica bids whose limit was below the pool index at their fast round (they waited, or never ran). */
  readonly bidsOutpriced: number;
  /** Scale-ups that came within 2 x scaleDownDelaySeconds after a scale-down (as GET /v1/services/:id counts them). */
  readonly flaps: number;
  readonly scalingDecisions: number;
  /** What the leases paid: per lease, sum of min(limit, pool index) x GPU-hours, exact in micro-units, 6 decimals. */
  readonly cost: string;
}

/** Nearest-rank percentile of sorted values (null when there are none). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Scale-ups with a scale-down decided within 2 x scaleDownDelaySeconds before them (the service's usage.flaps). */
export function countFlaps(decisions: readonly DecisionRecord[], scaleDownDelaySeconds: number): number {
  const window = 2 * scaleDownDelaySeconds * 1000;
  let flaps = 0;
  let lastDown: number | null = null;
  for (const d of decisions) {
    if (d.to > d.from && lastDown !== null && lastDown >= d.at - window) flaps++;
    if (d.to < d.from) lastDown = d.at;
  }
  return flaps;
}

export function measureService(
  run: ServiceRun,
  options: { readonly sloSeconds: number; readonly scaleDownDelaySeconds: number; readonly gpusPerReplica: number },
): ServicePolicyMetrics & { readonly costMoney: Money } {
  const latencies = [...run.latenciesMs].sort((a, b) => a - b);
  const slow = latencies.filter((ms) => ms > options.sloSeconds * 1000).length;
  const gpuMs = run.leases.reduce((total, l) => total + (l.end - l.start) * options.gpusPerReplica, 0);
  const costMoney = chargeToMoney(run.leases.reduce((total, l) => total + l.chargeMicroGpuMs, 0n));
  const coldSeconds = run.coldStarts.map((c) => (c.readyAt - c.bidAt) / 1000);
  const waitSeconds = run.coldStarts.map((c) => (c.leaseStart - c.bidAt) / 1000);
  const sloMisses = slow + run.rejected503 + run.timedOut504;
  const seconds = (ms: number | null) => (ms === null ? null : round3(ms / 1000));
  return {
    gpuHoursPaid: round3(gpuMs / 3_600_000),
    requests: run.requests,
    served: latencies.length,
    rejected503: run.rejected503,
    timedOut504: run.timedOut504,
    sloMisses,
    sloMissShare: run.requests === 0 ? 0 : round3(sloMisses / run.requests),
    latencySeconds: {
      p50: seconds(percentile(latencies, 50)),
      p95: seconds(percentile(latencies, 95)),
      p99: seconds(percentile(latencies, 99)),
    },
    coldStarts: run.coldStarts.length,
    coldStartsFromZero: run.coldStarts.filter((c) => c.fromZero).length,
    coldStartSeconds: meanMax(coldSeconds),
    marketWaitSeconds: meanMax(waitSeconds),
    bidsOutpriced: run.bidsOutpriced,
    flaps: countFlaps(run.decisions, options.scaleDownDelaySeconds),
    scalingDecisions: run.decisions.length,
    cost: costMoney.toFixed(6),
    costMoney,
  };
}

function meanMax(values: readonly number[]): { mean: number | null; max: number | null } {
  if (values.length === 0) return { mean: null, max: null };
  return { mean: round3(values.reduce((a, b) => a + b, 0) / values.length), max: round3(Math.max(...values)) };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
