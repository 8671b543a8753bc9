import { describe, expect, it } from 'vitest';
import type { ScalingPolicy } from '../services/autoscaler.js';
import { DIURNAL_H100_INDEX_BY_UTC_HOUR, marketClock, type ReplicaMarket } from './services-market.js';
import { replayService, type ServiceReplayConfig, type ServiceRun } from './services-replay.js';
import type { ServiceDemand } from './services-trace.js';

const HOUR = 3_600_000;
/** Replay time 0 is 00:00 UTC: the index is 0.30-0.31 for ten hours, far below any replica's limit. */
const cheap: ReplicaMarket = {
  epoch: '2023-11-16T00:00:00.000Z',
  indexByUtcHour: DIURNAL_H100_INDEX_BY_UTC_HOUR,
  maxPrice: '2.00',
  gpusPerReplica: 1,
  roundSeconds: 60,
  fastRoundSeconds: 2,
};
const policy: ScalingPolicy = {
  minReplicas: 0,
  maxReplicas: 3,
  targetConcurrency: 2,
  scaleDownDelaySeconds: 30,
  scaleToZeroAfterSeconds: 60,
  stableWindowSeconds: 60,
  panicWindowSeconds: 6,
};
/** Bid at t -> fast round wins at t + 2 s -> ready at t + 2 + 1 + 5 + 1 = t + 9 s. */
const COLD_START_MS = 9000;

function config(
  overrides: Partial<Omit<ServiceReplayConfig, 'policy'>> & { policy?: Partial<ScalingPolicy> } = {},
): ServiceReplayConfig {
  return {
    gateway: { maxPendingRequests: 100, pendingTimeoutSeconds: 120 },
    replicaConcurrency: 4,
    coldStart: { dispatchSeconds: 1, processStartSeconds: 5, readinessSeconds: 1 },
    warmReplicas: 0,
    gpusPerReplica: 1,
    tickSeconds: 1,
    ...overrides,
    policy: { ...policy, ...overrides.policy },
  };
}

/** Requests as [arrival ms, service ms]. */
function demand(requests: [number, number][], horizonMs: number): ServiceDemand {
  return {
    requests: requests.map(([arrivalMs, serviceMs], id) => ({ id, arrivalMs, serviceMs })),
    horizonMs,
    windows: 1,
    traceSecondsUsed: 0,
  };
}

/** A burst of `count` requests, one every `everyMs`, from `at`. */
const burst = (at: number, count: number, everyMs = 250, serviceMs = 3000): [number, number][] =>
  Array.from({ length: count }, (_, i) => [at + i * everyMs, serviceMs]);

const leaseMs = (run: ServiceRun) => run.leases.reduce((t, l) => t + (l.end - l.start), 0);
const replay = (d: ServiceDemand, c: ServiceReplayConfig, market = cheap) => replayService(d, c, marketClock(market));
const alwaysOn = (max: number) => config({ policy: { minReplicas: max, maxReplicas: max }, warmReplicas: max });

const DEMANDS = {
  'no requests': demand([], HOUR),
  'one burst': demand(burst(10_000, 40), HOUR),
  'two bursts an hour apart': demand([...burst(0, 40), ...burst(HOUR, 40)], 2 * HOUR),
  'a burst larger than the replicas can carry': demand(burst(0, 200, 20, 20_000), HOUR / 2),
};

describe('replayService', () => {
  it.each(Object.entries(DEMANDS))(
    'always-on pays exactly maxReplicas x the run, with no decision and no cold start: %s',
    (_, d) => {
      for (const max of [1, 3]) {
        const run = replay(d, alwaysOn(max));
        expect(leaseMs(run)).toBe(max * run.endMs);
        expect(run.endMs).toBe(d.horizonMs);
        expect(run.leases).toHaveLength(max);
        expect(run.decisions).toEqual([]);
        expect(run.coldStarts).toEqual([]);
        expect(run.latenciesMs).toHaveLength(d.requests.length);
      }
    },
  );

  it('scale-to-zero pays for fewer GPU-hours than always-on on demand with idle gaps, and goes back to zero in each gap', () => {
    const d = DEMANDS['two bursts an hour apart'];
    const elastic = replay(d, config());
    const full = replay(d, alwaysOn(3));
    expect(leaseMs(elastic)).toBeLessThan(leaseMs(full) / 4);
    expect(elastic.latenciesMs).toHaveLength(80);
    expect(elastic.decisions.filter((x) => x.reason === 'scale_to_zero')).toHaveLength(2);
    expect(elastic.decisions.filter((x) => x.reason === 'scale_from_zero')).toHaveLength(2);
    // Every lease ends well before the run does: nothing is paid for in the silence after the bursts.
    expect(Math.max(...elastic.leases.map((l) => l.end))).toBeLessThan(HOUR + 10 * 60_000);
    expect(elastic.coldStarts.filter((c) => c.fromZero).length).toBeGreaterThanOrEqual(2);
  });

  it('holds requests while a replica cold-starts and answers the ones over maxPendingRequests 503', () => {
    const d = demand(
      [0, 1, 2, 3, 4].map((t) => [t, 100]),
      HOUR,
    );
    const run = replay(d, config({ gateway: { maxPendingRequests: 2, pendingTimeoutSeconds: 120 } }));
    expect(run.rejected503).toBe(3);
    expect(run.timedOut504).toBe(0);
    // Held from arrival until the replica is ready (bid at 0, won at 2 s, ready at 9 s), then served.
    expect([...run.latenciesMs].sort((a, b) => a - b)).toEqual([COLD_START_MS + 100 - 1, COLD_START_MS + 100]);
    expect(run.coldStarts).toEqual([{ bidAt: 0, leaseStart: 2000, readyAt: COLD_START_MS, fromZero: true }]);
  });

  it('answers 504 to a request held longer than pendingTimeoutSeconds', () => {
    const run = replay(
      demand([[0, 100]], HOUR),
      config({ gateway: { maxPendingRequests: 10, pendingTimeoutSeconds: 5 } }),
    );
    expect(run).toMatchObject({ timedOut504: 1, rejected503: 0, latenciesMs: [] });
  });

  it('queues requests at a replica beyond its concurrency limit', () => {
    const run = replay(
      demand(
        [
          [0, 1000],
          [0, 1000],
          [0, 1000],
        ],
        60_000,
      ),
      { ...alwaysOn(1), replicaConcurrency: 2 },
    );
    expect(run.latenciesMs).toEqual([1000, 1000, 2000]);
  });

  it('runs a replica only once its bid wins: a limit below the index waits for a cheaper hour', () => {
    // From 11:00 UTC the index is 1.30 until 14:00 (then 0.80); the replica bids 1.00.
    const dear = { ...cheap, epoch: '2023-11-16T11:00:00.000Z', maxPrice: '1.00' };
    const run = replay(demand([[0, 100]], 4 * HOUR), config({ policy: { scaleToZeroAfterSeconds: 6 * HOUR } }), dear);
    expect(run.bidsOutpriced).toBe(1);
    expect(run.timedOut504).toBe(1);
    expect(run.coldStarts[0]).toMatchObject({ bidAt: 0, leaseStart: 3 * HOUR });
    // It pays from its lease, at min(limit, index) = 0.80.
    expect(run.leases).toEqual([
      expect.objectContaining({ start: 3 * HOUR, end: 4 * HOUR, chargeMicroGpuMs: 800_000n * BigInt(HOUR) }),
    ]);
  });

  it('is deterministic', () => {
    const d = DEMANDS['a burst larger than the replicas can carry'];
    expect(replay(d, config())).toEqual(replay(d, config()));
  });
});
