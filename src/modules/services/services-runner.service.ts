import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { decide } from '../../core/services/autoscaler.js';
import { mergeConcurrency } from '../../core/services/merge-samples.js';
import { BidError } from '../bids/bid.error.js';
import { BidsService } from '../bids/bids.service.js';
import { AdapterRegistry } from '../dispatch/adapter-registry.service.js';
import { stopServedProcesses } from '../dispatch/adapters/simulated.adapter.js';
import { RoundService } from '../market/round.service.js';
import { isInvokePath, ServicesGateway } from './services-gateway.js';
import {
  type GatewayView,
  type PeerGateway,
  type ReplicaRow,
  type ServiceRow,
  ServicesRepository,
} from './services.repository.js';
import { replicaBid } from './services.service.js';

/** The autoscaler's tick. */
export const TICK_MS = 1000;
/** How often a service with a replica starting or requests held is looked at (readiness, fast path). */
export const HOT_TICK_MS = 50;
/** Fast rounds (the cold-start path) start at most this often. */
export const FAST_ROUND_MIN_GAP_MS = 1000;
/**
 * A replica whose lease has run this long without its adapter reporting an endpoint is given up:
 * its bid is cancelled and a new replica bids (an adapter that reports no endpoints, a workload
 * that never gets ready, a local process lost with the market process that started it).
 */
export const REPLICA_READY_TIMEOUT_SECONDS = 600;
/** After a replica fails, the next waits 2^n s (n failures in a row), at most this long. */
export const MAX_FAILURE_BACKOFF_SECONDS = 300;
/** A service's runner lease lasts this long unless renewed (every tick). */
export const RUNNER_LEASE_SECONDS = 5;
/** Another process's gateway view older than this is not counted (that process is gone or stuck). */
const PEER_FRESH_SECONDS = 5;
const FINISHED_BIDS = new Set(['completed', 'cancelled', 'expired', 'failed']);
const LIVE_LEASES = new Set(['allocated', 'running', 'preempting']);

/**
 * Keeps every service at the replica count its autoscaler wants. Each tick: sample the gateway,
 * decide (src/core/services/autoscaler.ts), record a change with its inputs, then reconcile the
 * replicas with the market: a missing replica becomes a new bid (through BidsService, as a
 * tenant's bid would), a replica too many is drained (no new requests; its bid is cancelled once
 * its in-flight requests finished), a noticed replica is replaced by a new bid at its notice,
 * and a starting replica is routed to once its adapter reports its endpoint.
 *
 * The fast path: when a service adds a replica bid, the next round runs now instead of at its
 * slot (docs/services.md, "The fast path").
 *
 * Several market processes: each serves requests through its own gateway and publishes what it
 * sees (held and in-flight requests, concurrency samples) every tick; one process at a time runs
 * each service (its runner lease, renewed every tick, taken over when it lapses) and decides from
 * the sum of every fresh gateway's view. The others only route to the replicas the runner made
 * ready (docs/services.md, "Several market processes").
 */
@Injectable()
export class ServicesRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Services');
  private timers: NodeJS.Timeout[] = [];
  private readonly work = new Map<string, Promise<void>>();
  private readonly hot = new Set<string>();
  private fastRound: Promise<void> | null = null;
  private fastAgain = false;
  private lastFastRoundAt = 0;
  /** When the latest fast round began; replicas bid after it are not yet covered. */
  private fastRoundCoveredUntil = 0;
  private stopped = false;
  /** Replicas that failed in a row, per service, and when the last did: a crash loop backs off. */
  private readonly failures = new Map<string, { count: number; at: number }>();
  /** This process among the market's processes (runner leases, gateway views). */
  private readonly processId = randomUUID();
  /** The services this process runs, as of the last tick. */
  private mine = new Set<string>();
  /** The other processes' gateway views, by service, as of the last tick. */
  private peers = new Map<string, PeerGateway[]>();

  constructor(
    private readonly repository: ServicesRepository,
    private readonly gateway: ServicesGateway,
    private readonly bids: BidsService,
    private readonly rounds: RoundService,
    private readonly adapters: AdapterRegistry,
    private readonly httpHost: HttpAdapterHost,
  ) {}

  /** This market process's id in runner leases and gateway views. */
  get id(): string {
    return this.processId;
  }

  onApplicationBootstrap(): void {
    this.mountGateway();
    this.gateway.onHeld = (serviceId) => {
      this.hot.add(serviceId);
      void this.reconcileById(serviceId);
    };
    this.timers.push(setInterval(() => void this.tick(), TICK_MS));
    this.timers.push(setInterval(() => void this.hotTick(), HOT_TICK_MS));
    for (const timer of this.timers) timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.gateway.close();
    await Promise.allSettled([...this.work.values(), this.fastRound]);
    await this.flushTraffic();
    // Another process takes over this one's services at its next tick, not after the lease lapses.
    await this.repository
      .releaseRunners(this.processId)
      .catch((error: unknown) =>
        this.logger.warn(
          `services: runner leases not released: ${error instanceof Error ? error.message : String(error)}`,
        ),
      );
    stopServedProcesses();
  }

  /** Invoke paths go to the gateway before the API's router (and its body parser) sees them. */
  private mountGateway(): void {
    const server = this.httpHost.httpAdapter.getHttpServer() as Server;
    const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    server.removeAllListeners('request');
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (isInvokePath(request.url)) return void this.gateway.handle(request, response);
      for (const listener of listeners) listener.call(server, request, response);
    });
  }

  async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const services = await this.repository.live();
      const now = Date.now();
      for (const service of services) this.gateway.trafficOf(service.id).sample(now);
      await this.repository.publishGateways(
        this.processId,
        services.map((service) => this.viewOf(service, now)).filter((view) => view !== null),
      );
      const ids = services.map((service) => service.id);
      [this.mine, this.peers] = await Promise.all([
        this.repository.claimRunners(ids, this.processId, RUNNER_LEASE_SECONDS),
        this.repository.peerGateways(ids, this.processId, PEER_FRESH_SECONDS),
      ]);
      await Promise.all(services.map((service) => this.serialised(service.id, () => this.pass(service, true))));
    } catch (error) {
      this.logger.warn(`services tick: ${error instanceof Error ? error.message : String(error)}`);
    }
    await this.flushTraffic();
  }

  /** Stores what the gateway counted since the last flush (a failed flush is retried with the next). */
  async flushTraffic(): Promise<void> {
    const counts = new Map<string, { requests: number; rejected: number; timedOut: number }>();
    for (const [serviceId, traffic] of this.gateway.allTraffic()) {
      const delta = traffic.unflushed();
      if (delta.requests + delta.rejected + delta.timedOut > 0) counts.set(serviceId, delta);
    }
    if (counts.size === 0) return;
    try {
      await this.repository.addTraffic(counts, new Date());
      for (const [serviceId, delta] of counts) this.gateway.trafficOf(serviceId).markFlushed(delta);
    } catch (error) {
      this.logger.warn(`services traffic flush: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * What this gateway publishes of a service: null when it has nothing the runner needs (no
   * request held or in flight, no load in the stable window, no request recent enough to keep
   * the service from going to zero), so idle services cost no writes.
   */
  private viewOf(service: ServiceRow, now: number): GatewayView | null {
    const traffic = this.gateway.trafficOf(service.id);
    const windowStart = now - (service.stableWindowSeconds + 1) * 1000;
    const samples = traffic.samples.filter((sample) => sample.at >= windowStart);
    const inFlight = traffic.inFlightByReplica();
    const recent =
      traffic.lastRequestAt !== null &&
      now - traffic.lastRequestAt < (service.scaleToZeroAfterSeconds + service.stableWindowSeconds) * 1000;
    const busy =
      traffic.held.length > 0 || Object.keys(inFlight).length > 0 || samples.some((sample) => sample.concurrency > 0);
    if (!busy && !recent) return null;
    return {
      serviceId: service.id,
      held: traffic.held.length,
      inFlight,
      lastRequestAt: traffic.lastRequestAt,
      samples,
    };
  }

  /** The runner of a service reconciles it; every other process only routes. */
  private pass(service: ServiceRow, sampled: boolean): Promise<void> {
    return this.mine.has(service.id) ? this.reconcile(service, sampled) : this.routeOnly(service);
  }

  /** A process that does not run the service routes to the replicas its runner made ready. */
  private async routeOnly(service: ServiceRow): Promise<void> {
    if (this.stopped) return;
    this.gateway.remember(service);
    if (service.state === 'deleted') return;
    const replicas = await this.repository.liveReplicas(service.id);
    this.gateway.route(
      service.id,
      replicas.filter((r) => r.state === 'ready' && r.endpoint).map((r) => ({ id: r.id, endpoint: r.endpoint! })),
    );
    if (this.gateway.trafficOf(service.id).held.length > 0) this.hot.add(service.id);
    else this.hot.delete(service.id);
  }

  private async hotTick(): Promise<void> {
    if (this.stopped) return;
    await Promise.all([...this.hot].map((id) => this.reconcileById(id)));
  }

  private reconcileById(serviceId: string): Promise<void> {
    // A pass already running or waiting covers this call too.
    if (this.work.has(serviceId)) return this.work.get(serviceId)!;
    return this.serialised(serviceId, async () => {
      const service = await this.repository.findById(serviceId);
      if (service) await this.pass(service, false);
    });
  }

  /** One pass per service at a time. */
  private serialised(serviceId: string, pass: () => Promise<void>): Promise<void> {
    const previous = this.work.get(serviceId) ?? Promise.resolve();
    const next = previous
      .then(pass)
      .catch((error) =>
        this.logger.warn(`service ${serviceId}: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        if (this.work.get(serviceId) === next) this.work.delete(serviceId);
      });
    this.work.set(serviceId, next);
    return next;
  }

  private async reconcile(service: ServiceRow, sampled: boolean): Promise<void> {
    if (this.stopped) return;
    this.gateway.remember(service);
    if (service.state === 'deleted') return;
    const traffic = this.gateway.trafficOf(service.id);
    const now = Date.now();
    // The other processes' gateways count too: their load, their held requests, their last request.
    const peers = this.peers.get(service.id) ?? [];
    const lastRequests = [traffic.lastRequestAt, ...peers.map((p) => p.lastRequestAt)].filter((at) => at !== null);

    let desired = service.state === 'active' ? service.desiredReplicas : 0;
    if (service.state === 'active') {
      const decision = decide({
        now,
        policy: service,
        samples: mergeConcurrency(
          traffic.samples,
          peers.map((p) => p.samples),
        ),
        current: service.desiredReplicas,
        pending: traffic.held.length + peers.reduce((sum, p) => sum + p.held, 0),
        lastRequestAt: lastRequests.length > 0 ? Math.max(...lastRequests) : null,
        belowSince: traffic.belowSince,
      });
      traffic.belowSince = decision.belowSince;
      if (decision.desired !== service.desiredReplicas) {
        await this.repository.decide(
          service.id,
          service.desiredReplicas,
          decision.desired,
          decision.reason,
          decision.inputs,
        );
        desired = decision.desired;
        this.gateway.remember({ ...service, desiredReplicas: desired });
      }
    }

    const replicas = await this.repository.liveReplicas(service.id);
    const states = new Map<string, ReplicaRow['state']>();
    for (const replica of replicas) states.set(replica.id, await this.follow(service, replica, sampled));

    // Replicas that count towards the desired number: not noticed, not draining.
    const counted = replicas.filter((r) => ['bidding', 'starting', 'ready'].includes(states.get(r.id)!));
    const ready = replicas.filter((r) => states.get(r.id) === 'ready');
    let created = 0;
    const drainedNow = new Set<string>();
    if (counted.length < desired && !this.backingOff(service.id, now)) {
      const used = new Set(counted.map((r) => r.rank));
      const noticed = replicas.filter((r) => states.get(r.id) === 'noticed');
      for (let rank = 1; created < desired - counted.length; rank += 1) {
        if (used.has(rank)) continue;
        await this.addReplica(service, rank, ready.length === 0, noticed.find((r) => r.rank === rank)?.id ?? null);
        created += 1;
      }
    } else if (counted.length > desired) {
      // The replica that serves least goes first: one still bidding, then starting, then the highest rank.
      const order = { bidding: 0, starting: 1, ready: 2 } as Record<string, number>;
      const surplus = [...counted]
        .sort((a, b) => order[states.get(a.id)!]! - order[states.get(b.id)!]! || b.rank - a.rank)
        .slice(0, counted.length - desired);
      for (const replica of surplus) {
        await this.repository.updateReplica(replica.id, { state: 'draining' });
        states.set(replica.id, 'draining');
        drainedNow.add(replica.id);
      }
    }

    this.gateway.route(
      service.id,
      replicas
        .filter((r) => states.get(r.id) === 'ready' && r.endpoint)
        .map((r) => ({ id: r.id, endpoint: r.endpoint! })),
    );

    // Drained replicas end once their last request finished, on every gateway: one that has not
    // published since the drain began may still have sent it a request.
    const drainSeenByPeers = (replica: ReplicaRow) => {
      if (peers.length === 0) return true;
      const since = drainedNow.has(replica.id) ? new Date(now) : replica.drainingSince;
      return since === null || peers.every((p) => p.updatedAt > since);
    };
    for (const replica of replicas) {
      if (states.get(replica.id) !== 'draining' || traffic.inFlightOn(replica.id) > 0) continue;
      if (!drainSeenByPeers(replica) || peers.some((p) => (p.inFlight[replica.id] ?? 0) > 0)) continue;
      await this.cancelBid(service, replica);
      await this.repository.updateReplica(replica.id, {
        state: 'ended',
        endReason: service.state === 'active' ? 'scaled_down' : 'service_deleted',
      });
      states.set(replica.id, 'ended');
    }

    // The fast path: a new replica bid (a scale-up, a start from zero, a replacement) is cleared
    // now, not at the next slot; so is one the last fast round missed while requests are held.
    const waiting = traffic.held.length > 0 && !traffic.hasRoutable();
    const uncovered = replicas.some(
      (r) => states.get(r.id) === 'bidding' && new Date(r.requestedAt).getTime() >= this.fastRoundCoveredUntil,
    );
    if (created > 0 || (waiting && uncovered)) this.requestFastRound();
    // Looked at every HOT_TICK_MS while something is about to change: a replica starting, requests
    // held, a bid no round has seen yet. A bid that lost its round waits for the next tick.
    const starting = [...states.values()].some((s) => s === 'starting');
    if (starting || traffic.held.length > 0 || created > 0 || uncovered) this.hot.add(service.id);
    else this.hot.delete(service.id);

    if (service.state === 'deleting' && [...states.values()].every((s) => s === 'ended') && created === 0) {
      await this.repository.markDeleted(service.id);
      this.gateway.remember({ ...service, state: 'deleted' });
      this.hot.delete(service.id);
    }
  }

  /** Brings a replica's state in line with its bid and lease (and its adapter, once placed). */
  private async follow(service: ServiceRow, replica: ReplicaRow, sampled: boolean): Promise<ReplicaRow['state']> {
    if (replica.bidId === null) {
      // Its bid was not recorded (a crash between the two writes): the same key finds or makes it.
      await this.submitBid(service, replica.id, replica.rank);
      return 'bidding';
    }
    const leaseLive = replica.latestLeaseState !== null && LIVE_LEASES.has(replica.latestLeaseState);
    switch (replica.state) {
      case 'draining':
        return 'draining';
      case 'noticed': {
        if (leaseLive && replica.latestLeaseState !== 'preempting') {
          // It won its place back, but its replacement is bidding already: this one goes.
          await this.repository.updateReplica(replica.id, { state: 'draining' });
          return 'draining';
        }
        if (leaseLive) return 'noticed';
        await this.cancelBid(service, replica);
        await this.repository.updateReplica(replica.id, { state: 'ended', endReason: 'preempted' });
        return 'ended';
      }
      default:
        break;
    }
    if (!leaseLive) {
      if (replica.bidStatus !== null && FINISHED_BIDS.has(replica.bidStatus)) {
        await this.repository.updateReplica(replica.id, { state: 'ended', endReason: `bid_${replica.bidStatus}` });
        if (replica.bidStatus === 'failed') this.failed(service.id);
        return 'ended';
      }
      if (replica.state !== 'bidding')
        await this.repository.updateReplica(replica.id, { state: 'bidding', endpoint: null });
      return 'bidding';
    }
    if (replica.latestLeaseState === 'preempting') {
      await this.repository.updateReplica(replica.id, { state: 'noticed' });
      return 'noticed';
    }
    if (replica.leaseId !== replica.latestLeaseId) {
      await this.repository.updateReplica(replica.id, {
        state: 'starting',
        leaseId: replica.latestLeaseId,
        allocatedAt: replica.latestLeaseAllocatedAt,
        endpoint: null,
        spawnedAt: null,
        listeningAt: null,
        readyAt: null,
      });
    }
    // A ready replica is asked again once a tick; a starting one on every pass.
    if (replica.state === 'ready' && replica.leaseId === replica.latestLeaseId && !sampled) return 'ready';
    return this.probe(service, replica);
  }

  /** Asks the lease's adapter whether its workload serves yet (and still does). */
  private async probe(service: ServiceRow, replica: ReplicaRow): Promise<'starting' | 'ready' | 'ended'> {
    const leaseId = replica.latestLeaseId!;
    const wasReady = replica.state === 'ready' && replica.leaseId === leaseId;
    const placed = await this.repository.placeHandle(leaseId);
    const late =
      Date.now() - new Date(replica.latestLeaseAllocatedAt!).getTime() > REPLICA_READY_TIMEOUT_SECONDS * 1000;
    const giveUp = async () => {
      this.logger.warn(
        `service ${service.id}: replica ${replica.rank} not ready ${REPLICA_READY_TIMEOUT_SECONDS} s after its lease; replaced`,
      );
      await this.cancelBid(service, replica);
      await this.repository.updateReplica(replica.id, { state: 'ended', endReason: 'not_ready_in_time' });
      this.failed(service.id);
      return 'ended' as const;
    };
    if (!placed) return late ? giveUp() : 'starting';
    const adapter = await this.adapters.forProvider(placed.providerId, placed.adapter);
    const status = await adapter.status(leaseId, placed.handle);
    if (status.state !== 'running' || !status.endpoint) {
      if (late && !wasReady) return giveUp();
      if (wasReady) await this.repository.updateReplica(replica.id, { state: 'starting', endpoint: null });
      return 'starting';
    }
    if (!wasReady || replica.endpoint !== status.endpoint) {
      const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
      await this.repository.updateReplica(replica.id, {
        state: 'ready',
        endpoint: status.endpoint,
        spawnedAt: at(status.serving?.spawnedAt),
        listeningAt: at(status.serving?.listeningAt),
        readyAt: at(status.serving?.readyAt) ?? new Date(),
      });
      (replica as { endpoint: string | null }).endpoint = status.endpoint;
      this.failures.delete(service.id);
    }
    return 'ready';
  }

  private failed(serviceId: string): void {
    const previous = this.failures.get(serviceId);
    this.failures.set(serviceId, { count: (previous?.count ?? 0) + 1, at: Date.now() });
  }

  /** A replica failed lately: the next one waits 2, 4, 8 ... s (at most MAX_FAILURE_BACKOFF_SECONDS). */
  private backingOff(serviceId: string, now: number): boolean {
    const failures = this.failures.get(serviceId);
    if (!failures) return false;
    return now - failures.at < Math.min(2 ** failures.count, MAX_FAILURE_BACKOFF_SECONDS) * 1000;
  }

  private async addReplica(
    service: ServiceRow,
    rank: number,
    fromZero: boolean,
    replaces: string | null,
  ): Promise<void> {
    const id = randomUUID();
    await this.repository.insertReplica({ id, serviceId: service.id, rank, fromZero, replaces });
    await this.submitBid(service, id, rank);
  }

  /** The replica's bid, through the bid code path: same validation, idempotency and money as a tenant's. */
  private async submitBid(service: ServiceRow, replicaId: string, rank: number): Promise<void> {
    try {
      const { bid } = await this.bids.submit(
        service.tenantId,
        replicaBid(service, rank),
        `service-replica:${replicaId}`,
      );
      await this.repository.updateReplica(replicaId, { bidId: bid.id });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn(`service ${service.id}: the bid of replica ${rank} was refused: ${message}`);
      await this.repository.updateReplica(replicaId, {
        state: 'ended',
        endReason: `bid_refused: ${message}`.slice(0, 500),
      });
      this.failed(service.id);
    }
  }

  private async cancelBid(service: ServiceRow, replica: ReplicaRow): Promise<void> {
    if (!replica.bidId) return;
    try {
      await this.bids.cancel(service.tenantId, replica.bidId);
    } catch (error) {
      if (!(error instanceof BidError)) throw error; // already finished: nothing to cancel
    }
  }

  /** Runs the next round now (one at a time, at most one per FAST_ROUND_MIN_GAP_MS). */
  private requestFastRound(): void {
    if (this.fastRound) {
      this.fastAgain = true;
      return;
    }
    this.fastRound = (async () => {
      do {
        this.fastAgain = false;
        const wait = this.lastFastRoundAt + FAST_ROUND_MIN_GAP_MS - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.stopped) return;
        const now = new Date();
        this.lastFastRoundAt = now.getTime();
        this.fastRoundCoveredUntil = now.getTime();
        try {
          await this.rounds.runRound({ now, periodStart: now });
        } catch (error) {
          this.logger.warn(`fast round: ${error instanceof Error ? error.message : String(error)}`);
        }
        await Promise.all([...this.hot].map((id) => this.reconcileById(id)));
      } while (this.fastAgain && !this.stopped);
    })().finally(() => {
      this.fastRound = null;
    });
  }
}
