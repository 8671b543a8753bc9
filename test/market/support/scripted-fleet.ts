import {
  AdapterError,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type StopOrder,
  type WorkloadStatus,
} from '../../../src/modules/dispatch/adapters/provider-adapter.js';
import { MemorySimulatedFleetStore } from '../../../src/modules/dispatch/adapters/simulated-fleet-store.js';
import { SimulatedAdapter } from '../../../src/modules/dispatch/adapters/simulated.adapter.js';

/**
 * A simulated fleet a test scripts by bid (the test knows its bids before the round makes their
 * leases): placements that fail, workloads that exit, stops that fail. Everything else is the
 * simulated adapter's, on a store the test can also hand to a fresh adapter instance (what a
 * restarted process would build) or make forget a workload (a platform that lost it).
 */
export class ScriptedFleet implements ProviderAdapter {
  readonly kind = 'simulated' as const;
  readonly store: MemorySimulatedFleetStore;
  /** Added to the real clock: lets a test jump past a notice's grace without waiting. */
  clockOffsetMs = 0;
  inner: SimulatedAdapter;
  readonly placeFailures = new Map<string, 'retryable' | 'permanent'>();
  readonly exits = new Map<string, { code: number; afterSeconds: number }>();
  readonly ignoringTerm = new Set<string>();
  failPreempts = false;
  failTerminates = false;
  /** Calls per lease and operation. */
  readonly calls = new Map<string, number>();

  constructor(nodes: ReadonlyArray<{ externalId: string; gpus: number }>) {
    this.store = new MemorySimulatedFleetStore(nodes);
    this.inner = this.freshInstance();
  }

  /** Another adapter on the same fleet, remembering nothing (a restarted process). */
  freshInstance(): SimulatedAdapter {
    return new SimulatedAdapter({ store: this.store, now: () => Date.now() + this.clockOffsetMs });
  }

  restart(): void {
    this.inner = this.freshInstance();
  }

  callsOf(leaseId: string, operation: 'place' | 'preempt' | 'terminate'): number {
    return this.calls.get(`${operation}:${leaseId}`) ?? 0;
  }

  async place(order: PlaceOrder): Promise<{ handle: string }> {
    this.count('place', order.leaseId);
    const failure = this.placeFailures.get(order.bidId);
    if (failure) throw new AdapterError(failure, `scripted ${failure} failure placing bid ${order.bidId}`);
    const exit = this.exits.get(order.bidId);
    if (exit) this.inner.failWorkload(order.leaseId, exit.code, exit.afterSeconds);
    if (this.ignoringTerm.has(order.bidId)) this.inner.ignoreTerm(order.leaseId);
    return this.inner.place(order);
  }

  async preempt(order: StopOrder): Promise<void> {
    this.count('preempt', order.leaseId);
    if (this.failPreempts) throw AdapterError.retryable(`scripted: controller busy, cannot preempt ${order.leaseId}`);
    await this.inner.preempt(order);
  }

  async terminate(order: StopOrder): Promise<void> {
    this.count('terminate', order.leaseId);
    if (this.failTerminates)
      throw AdapterError.retryable(`scripted: controller busy, cannot terminate ${order.leaseId}`);
    await this.inner.terminate(order);
  }

  status(leaseId: string, handle: string, context?: StatusContext): Promise<WorkloadStatus> {
    return this.inner.status(leaseId, handle, context);
  }

  /** The fleet's own view of the lease's workload now. */
  async workload(leaseId: string) {
    const workload = await this.inner.workloadOf(leaseId);
    return workload ? { ...workload, signals: this.inner.signalsOf(leaseId) } : undefined;
  }

  private count(operation: string, leaseId: string): void {
    this.calls.set(`${operation}:${leaseId}`, (this.calls.get(`${operation}:${leaseId}`) ?? 0) + 1);
  }
}
