import { decide, type ConcurrencySample, type ScalingPolicy, type ScalingReason } from '../services/autoscaler.js';
import { EventQueue } from './services-events.js';
import type { MarketClock } from './services-market.js';
import type { ServiceDemand, ServiceRequest } from './services-trace.js';

/**
 * One service replayed against one demand under one scaling policy, in virtual milliseconds:
 * the gateway (route to the ready replica with the fewest requests in flight; hold while none is
 * ready, at most maxPendingRequests, then 503; 504 after pendingTimeoutSeconds held), the
 * runner's once-a-second tick calling the project's own autoscaler (`decide`), and replicas that
 * are market bids: a replica runs only once its bid wins at the pool's price, and then still
 * needs dispatch + process start + readiness before it takes requests.
 */
export interface GatewayLimits {
  readonly maxPendingRequests: number;
  readonly pendingTimeoutSeconds: number;
}

/** Lease start -> ready: what docs/services.md splits a cold start into after the market wait. */
export interface ColdStartModel {
  readonly dispatchSeconds: number;
  readonly processStartSeconds: number;
  readonly readinessSeconds: number;
}

export interface ServiceReplayConfig {
  readonly policy: ScalingPolicy;
  readonly gateway: GatewayLimits;
  /** Requests one replica serves at once; more wait in its own queue (its server's). */
  readonly replicaConcurrency: number;
  readonly coldStart: ColdStartModel;
  /** Replicas already running and ready at time 0 (a service that was provisioned before the replay). */
  readonly warmReplicas: number;
  readonly gpusPerReplica: number;
  readonly tickSeconds: number;
}

export interface LeaseRecord {
  readonly rank: number;
  readonly start: number;
  readonly end: number;
  readonly limitMicros: number;
  readonly chargeMicroGpuMs: bigint;
}

export interface ColdStartRecord {
  readonly bidAt: number;
  readonly leaseStart: number;
  readonly readyAt: number;
  /** No replica was ready when this one was asked for. */
  readonly fromZero: boolean;
}

export interface DecisionRecord {
  readonly at: number;
  readonly from: number;
  readonly to: number;
  readonly reason: ScalingReason;
}

export interface ServiceRun {
  readonly requests: number;
  /** Completion - arrival of every served request, ms. */
  readonly latenciesMs: readonly number[];
  readonly rejected503: number;
  readonly timedOut504: number;
  readonly leases: readonly LeaseRecord[];
  readonly decisions: readonly DecisionRecord[];
  readonly coldStarts: readonly ColdStartRecord[];
  /** Bid-rounds a replica bid lost because its limit was below the pool index (each bid counted once). */
  readonly bidsOutpriced: number;
  readonly endMs: number;
}

type ReplicaState = 'bidding' | 'starting' | 'ready' | 'draining' | 'ended';

interface Replica {
  readonly rank: number;
  readonly limitMicros: number;
  readonly bidAt: number;
  readonly fromZero: boolean;
  state: ReplicaState;
  leaseStart: number | null;
  running: number;
  readonly queue: ServiceRequest[];
}

interface Held {
  readonly request: ServiceRequest;
  done: boolean;
}

export function replayService(demand: ServiceDemand, config: ServiceReplayConfig, clock: MarketClock): ServiceRun {
  const { policy, gateway } = config;
  const queue = new EventQueue();
  const coldStartMs =
    (config.coldStart.dispatchSeconds + config.coldStart.processStartSeconds + config.coldStart.readinessSeconds) *
    1000;
  let replicas: Replica[] = [];
  const held: Held[] = [];
  const latenciesMs: number[] = [];
  const leases: LeaseRecord[] = [];
  const decisions: DecisionRecord[] = [];
  const coldStarts: ColdStartRecord[] = [];
  const counts = { rejected503: 0, timedOut504: 0, bidsOutpriced: 0 };
  const horizon = demand.horizonMs;
  let now = 0;
  let desired = config.warmReplicas;
  let belowSince: number | null = null;
  let lastRequestAt: number | null = null;
  const samples: ConcurrencySample[] = [];
  // The gateway's concurrency (in flight at replicas + held) as an exact time integral.
  let load = 0;
  let loadSince = 0;
  let integral = 0;
  const changeLoad = (delta: number) => {
    integral += load * (now - loadSince);
    loadSince = now;
    load += delta;
  };

  const live = () => replicas.filter((r) => r.state === 'bidding' || r.state === 'starting' || r.state === 'ready');
  const ready = () => replicas.filter((r) => r.state === 'ready');

  const endLease = (replica: Replica, at: number) => {
    if (replica.leaseStart !== null)
      leases.push({
        rank: replica.rank,
        start: replica.leaseStart,
        end: at,
        limitMicros: replica.limitMicros,
        chargeMicroGpuMs: clock.chargeMicroGpuMs(replica.leaseStart, at, replica.limitMicros),
      });
    replica.state = 'ended';
  };

  const start = (replica: Replica, request: ServiceRequest) => {
    replica.running++;
    queue.push(now + request.serviceMs, 'completion', () => complete(replica, request));
  };
  const assign = (replica: Replica, request: ServiceRequest) => {
    if (replica.running < config.replicaConcurrency) start(replica, request);
    else replica.queue.push(request);
  };
  const complete = (replica: Replica, request: ServiceRequest) => {
    replica.running--;
    changeLoad(-1);
    latenciesMs.push(now - request.arrivalMs);
    const next = replica.queue.shift();
    if (next) start(replica, next);
    if (replica.state === 'draining' && replica.running === 0 && replica.queue.length === 0) endLease(replica, now);
  };
  /** The ready replica with the fewest requests in flight (lowest rank on a tie). */
  const pick = (): Replica | undefined => {
    let best: Replica | undefined;
    for (const r of ready()) if (!best || r.running + r.queue.length < best.running + best.queue.length) best = r;
    return best;
  };
  const releaseHeld = () => {
    for (let replica = pick(); held.length > 0 && replica; replica = pick()) {
      const entry = held.shift()!;
      entry.done = true;
      assign(replica, entry.request);
    }
  };

  const addReplica = () => {
    const taken = new Set(live().map((r) => r.rank));
    let rank = 1;
    while (taken.has(rank)) rank++;
    const replica: Replica = {
      rank,
      limitMicros: clock.limit(rank, policy.minReplicas),
      bidAt: now,
      fromZero: ready().length === 0,
      state: 'bidding',
      leaseStart: null,
      running: 0,
      queue: [],
    };
    replicas.push(replica);
    const win = clock.firstWin(now + clock.fastRoundMs, replica.limitMicros, horizon);
    if (win === null || win > now + clock.fastRoundMs) counts.bidsOutpriced++;
    if (win !== null)
      queue.push(win, 'win', () => {
        if (replica.state !== 'bidding') return;
        replica.state = 'starting';
        replica.leaseStart = now;
        queue.push(now + coldStartMs, 'ready', () => {
          if (replica.state !== 'starting') return;
          replica.state = 'ready';
          coldStarts.push({
            bidAt: replica.bidAt,
            leaseStart: replica.leaseStart!,
            readyAt: now,
            fromZero: replica.fromZero,
          });
          releaseHeld();
        });
      });
  };
  /** Scale-down order of the runner: a replica still bidding, then one starting, then the ready one of highest rank. */
  const removeReplica = () => {
    const candidates = live();
    const byRankDesc = (s: ReplicaState) => candidates.filter((r) => r.state === s).sort((a, b) => b.rank - a.rank)[0];
    const victim = byRankDesc('bidding') ?? byRankDesc('starting') ?? byRankDesc('ready');
    if (!victim) return;
    if (victim.state === 'bidding') victim.state = 'ended';
    else if (victim.state === 'starting' || (victim.running === 0 && victim.queue.length === 0)) endLease(victim, now);
    else victim.state = 'draining';
  };

  const decideNow = () => {
    const decision = decide({
      now,
      policy,
      samples,
      current: desired,
      pending: held.length,
      lastRequestAt,
      belowSince,
    });
    belowSince = decision.belowSince;
    if (decision.desired !== desired) {
      decisions.push({ at: now, from: desired, to: decision.desired, reason: decision.reason });
      desired = decision.desired;
    }
    while (live().length < desired) addReplica();
    while (live().length > desired) removeReplica();
  };

  for (let rank = 1; rank <= config.warmReplicas; rank++)
    replicas.push({
      rank,
      limitMicros: clock.limit(rank, policy.minReplicas),
      bidAt: 0,
      fromZero: false,
      state: 'ready',
      leaseStart: 0,
      running: 0,
      queue: [],
    });

  for (const request of demand.requests)
    queue.push(request.arrivalMs, 'arrival', () => {
      lastRequestAt = now;
      const replica = pick();
      if (replica) {
        changeLoad(1);
        assign(replica, request);
        return;
      }
      if (held.length >= gateway.maxPendingRequests) {
        counts.rejected503++;
        return;
      }
      const entry: Held = { request, done: false };
      held.push(entry);
      changeLoad(1);
      queue.push(now + gateway.pendingTimeoutSeconds * 1000, 'timeout', () => {
        if (entry.done) return;
        entry.done = true;
        held.splice(held.indexOf(entry), 1);
        changeLoad(-1);
        counts.timedOut504++;
      });
      // The gateway asks for a decision at once when it holds a request, not at the next tick.
      decideNow();
    });

  const tickMs = config.tickSeconds * 1000;
  const tick = () => {
    changeLoad(0);
    samples.push({ at: now, seconds: config.tickSeconds, concurrency: integral / tickMs });
    integral = 0;
    replicas = replicas.filter((r) => r.state !== 'ended');
    while (samples.length > 0 && samples[0].at <= now - policy.stableWindowSeconds * 1000) samples.shift();
    decideNow();
    if (now + tickMs <= horizon) queue.push(now + tickMs, 'tick', tick);
  };
  if (tickMs <= horizon) queue.push(tickMs, 'tick', tick);

  for (let event = queue.pop(); event; event = queue.pop()) {
    now = event.at;
    event.run();
  }
  const endMs = Math.max(horizon, now);
  now = endMs;
  for (const replica of replicas)
    if (replica.state === 'bidding') replica.state = 'ended';
    else if (replica.state !== 'ended') endLease(replica, endMs);
  return { requests: demand.requests.length, latenciesMs, ...counts, leases, decisions, coldStarts, endMs };
}
