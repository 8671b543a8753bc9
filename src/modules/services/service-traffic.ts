import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConcurrencySample } from '../../core/services/autoscaler.js';

export interface RoutableReplica {
  readonly id: string;
  readonly endpoint: string;
}

export interface HeldRequest {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly heldAt: number;
  readonly timer: NodeJS.Timeout;
}

/** Samples older than this are dropped (the longest stable window the API allows). */
const KEEP_SAMPLES_MS = 3600 * 1000;

/**
 * What this gateway knows of one service's traffic: the replicas it may route to, the requests
 * in flight on each, the requests it holds, and the time integral of concurrency (in flight plus
 * held) from which the runner takes one exact mean per tick for the autoscaler.
 */
export class ServiceTraffic {
  readonly held: HeldRequest[] = [];
  private readonly inFlight = new Map<string, number>();
  private routable: RoutableReplica[] = [];
  private concurrency = 0;
  private integral = 0;
  private lastChange: number;
  private lastSampleAt: number;
  private lastSampleIntegral = 0;
  readonly samples: ConcurrencySample[] = [];
  lastRequestAt: number | null = null;
  /** Autoscaler state carried between ticks. */
  belowSince: number | null = null;
  requests = 0;
  rejected = 0;
  timedOut = 0;
  /** The counts already stored (services.*_total, service_traffic); the rest is this process's alone. */
  private flushed = { requests: 0, rejected: 0, timedOut: 0 };

  constructor(now: number) {
    this.lastChange = now;
    this.lastSampleAt = now;
  }

  private account(now: number, delta: number): void {
    this.integral += this.concurrency * (now - this.lastChange);
    this.lastChange = now;
    this.concurrency += delta;
  }

  arrived(now: number): void {
    this.lastRequestAt = now;
    this.requests += 1;
  }

  hold(entry: HeldRequest): void {
    this.account(entry.heldAt, 1);
    this.held.push(entry);
  }

  /** Removes a held request (served, timed out, or its client left); false if it was not held. */
  release(entry: HeldRequest, now: number): boolean {
    const index = this.held.indexOf(entry);
    if (index < 0) return false;
    this.held.splice(index, 1);
    clearTimeout(entry.timer);
    this.account(now, -1);
    return true;
  }

  /** The ready replica with the fewest requests in flight, or null. */
  pick(): RoutableReplica | null {
    let best: RoutableReplica | null = null;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const replica of this.routable) {
      const load = this.inFlight.get(replica.id) ?? 0;
      if (load < bestLoad) {
        best = replica;
        bestLoad = load;
      }
    }
    return best;
  }

  started(replicaId: string, now: number): void {
    this.inFlight.set(replicaId, (this.inFlight.get(replicaId) ?? 0) + 1);
    this.account(now, 1);
  }

  finished(replicaId: string, now: number): void {
    const left = (this.inFlight.get(replicaId) ?? 1) - 1;
    if (left <= 0) this.inFlight.delete(replicaId);
    else this.inFlight.set(replicaId, left);
    this.account(now, -1);
  }

  /** Requests in flight per replica (replicas with none left out). */
  inFlightByReplica(): Record<string, number> {
    return Object.fromEntries(this.inFlight);
  }

  inFlightOn(replicaId: string): number {
    return this.inFlight.get(replicaId) ?? 0;
  }

  routableIds(): string[] {
    return this.routable.map((r) => r.id);
  }

  /** The replicas to route to from now on; a replica left out (draining, noticed) gets no new request. */
  setRoutable(replicas: readonly RoutableReplica[]): void {
    this.routable = [...replicas];
  }

  /** Takes a replica out of routing at once (its connection was refused). */
  unroute(replicaId: string): void {
    this.routable = this.routable.filter((r) => r.id !== replicaId);
  }

  hasRoutable(): boolean {
    return this.routable.length > 0;
  }

  /** What this process counted and has not stored yet. */
  unflushed(): { requests: number; rejected: number; timedOut: number } {
    return {
      requests: this.requests - this.flushed.requests,
      rejected: this.rejected - this.flushed.rejected,
      timedOut: this.timedOut - this.flushed.timedOut,
    };
  }

  /** `counts` (an earlier unflushed()) are stored now. */
  markFlushed(counts: { requests: number; rejected: number; timedOut: number }): void {
    this.flushed = {
      requests: this.flushed.requests + counts.requests,
      rejected: this.flushed.rejected + counts.rejected,
      timedOut: this.flushed.timedOut + counts.timedOut,
    };
  }

  /** Closes the interval since the last sample: its mean concurrency, exactly. */
  sample(now: number): ConcurrencySample {
    this.account(now, 0);
    const seconds = Math.max(0.001, (now - this.lastSampleAt) / 1000);
    const sample = { at: now, seconds, concurrency: (this.integral - this.lastSampleIntegral) / 1000 / seconds };
    this.lastSampleAt = now;
    this.lastSampleIntegral = this.integral;
    this.samples.push(sample);
    while (this.samples.length > 0 && this.samples[0]!.at < now - KEEP_SAMPLES_MS) this.samples.shift();
    return sample;
  }
}
