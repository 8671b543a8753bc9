import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AdapterError,
  type GrantedNode,
  type PlaceOrder,
  type ProviderAdapter,
  type StatusContext,
  type Workload,
  type WorkloadState,
  type WorkloadStatus,
} from '../../../src/modules/dispatch/adapters/provider-adapter.js';

/**
 * The contract every provider adapter passes. A fleet harness supplies the adapter, a node it
 * can place on, a way to express a test workload for its platform, and an observation probe
 * (what the workload itself saw: node, GPU indices, signals).
 */
export type Behaviour =
  | { kind: 'run'; seconds: number }
  | { kind: 'exit'; code: number; afterSeconds: number }
  | { kind: 'ignore-term'; seconds: number };

export interface Observation {
  /** Processes (or simulated workloads) started for the lease. */
  starts: number;
  placements: Array<{ externalId: string; gpuIndices: number[] }>;
  signals: string[];
  /** Whether any process of the lease is still alive; undefined where there is no process. */
  alive?: boolean;
  markers?: Array<string | undefined>;
}

export interface ContractFleet {
  readonly adapter: ProviderAdapter;
  /**
   * Another adapter instance on the same fleet, remembering nothing: what a restarted market
   * process, or another replica, gets from the registry.
   */
  fresh(): ProviderAdapter;
  /** A node of the fleet; `gpus` is its capacity. */
  readonly node: GrantedNode;
  readonly graceSeconds: number;
  /** Upper bound for the fleet to reach a state (real controllers poll). */
  readonly settleMs: number;
  workload(leaseId: string, behaviour: Behaviour): Workload;
  /** Called before place, for fleets that need to know the behaviour up front (simulated). */
  prepare?(leaseId: string, behaviour: Behaviour): void;
  observe(leaseId: string): Promise<Observation>;
  /** Lets time pass: real fleets sleep, the simulated fleet moves its clock. */
  pass(ms: number): Promise<void>;
  /**
   * Makes the platform forget an ended workload, as it does in time (Kubernetes collects a
   * deleted Pod, slurmctld purges a job after MinJobAge), where the harness can.
   */
  forget?(leaseId: string, handle: string): Promise<void>;
}

export function contractOrder(
  fleet: ContractFleet,
  gpus: number,
  behaviour: Behaviour,
  node?: GrantedNode,
): PlaceOrder {
  const leaseId = `lease-${randomUUID()}`;
  fleet.prepare?.(leaseId, behaviour);
  const seconds = behaviour.kind === 'exit' ? behaviour.afterSeconds : behaviour.seconds;
  return {
    leaseId,
    bidId: `bid-${leaseId}`,
    tenantId: 'tenant-contract',
    gpuModel: 'H100-SXM-80GB',
    nodes: [{ ...(node ?? fleet.node), gpus }],
    workload: fleet.workload(leaseId, behaviour),
    runtimeSeconds: seconds,
  };
}

export async function waitForState(
  fleet: ContractFleet,
  order: PlaceOrder,
  handle: string,
  states: readonly WorkloadState[],
  context?: StatusContext,
): Promise<WorkloadStatus> {
  const step = 100;
  let last: WorkloadStatus = { state: 'unknown' };
  for (let waited = 0; waited <= fleet.settleMs; waited += step) {
    last = await fleet.adapter.status(order.leaseId, handle, context);
    if (states.includes(last.state)) return last;
    await fleet.pass(step);
  }
  throw new Error(`lease ${order.leaseId} did not reach ${states.join('|')}; last status ${JSON.stringify(last)}`);
}

async function waitForObservation(fleet: ContractFleet, leaseId: string, ready: (o: Observation) => boolean) {
  const step = 100;
  let last = await fleet.observe(leaseId);
  for (let waited = 0; waited <= fleet.settleMs && !ready(last); waited += step) {
    await fleet.pass(step);
    last = await fleet.observe(leaseId);
  }
  return last;
}

async function placeRunning(fleet: ContractFleet, gpus: number, behaviour: Behaviour) {
  const order = contractOrder(fleet, gpus, behaviour);
  const { handle } = await fleet.adapter.place(order);
  await waitForState(fleet, order, handle, ['running']);
  await waitForObservation(fleet, order.leaseId, (o) => o.starts > 0);
  return { order, handle };
}

/** What the market tells an adapter once it has ordered a lease stopped (from its orders table). */
const STOPPED_BY_MARKET: StatusContext = { stopRequested: true };

export function adapterContract(name: string, setup: () => ContractFleet): void {
  describe(`${name} adapter contract`, () => {
    const long: Behaviour = { kind: 'run', seconds: 60 };

    it('starts the workload once, on exactly the granted number of GPUs of the granted node', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 3, long);
      const seen = await fleet.observe(order.leaseId);
      expect(seen.starts).toBe(1);
      expect(seen.placements).toHaveLength(1);
      expect(seen.placements[0]!.externalId).toBe(fleet.node.externalId);
      const indices = seen.placements[0]!.gpuIndices;
      expect(new Set(indices).size).toBe(3);
      for (const index of indices) expect(index).toBeGreaterThanOrEqual(0);
      for (const index of indices) expect(index).toBeLessThan(fleet.node.gpus);
      await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
    });

    it('gives two leases on one node disjoint GPUs', async () => {
      const fleet = setup();
      const first = await placeRunning(fleet, 2, long);
      const second = await placeRunning(fleet, 3, long);
      const a = (await fleet.observe(first.order.leaseId)).placements[0]!.gpuIndices;
      const b = (await fleet.observe(second.order.leaseId)).placements[0]!.gpuIndices;
      expect(a).toHaveLength(2);
      expect(b).toHaveLength(3);
      expect(a.filter((index) => b.includes(index))).toEqual([]);
      for (const lease of [first, second]) {
        await fleet.adapter.terminate({ leaseId: lease.order.leaseId, handle: lease.handle, graceSeconds: 0 });
      }
    });

    it('reports a workload that exits 0 as completed with exit code 0', async () => {
      const fleet = setup();
      const order = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 1 });
      const { handle } = await fleet.adapter.place(order);
      const status = await waitForState(fleet, order, handle, ['completed', 'failed', 'stopped']);
      expect(status).toMatchObject({ state: 'completed', exitCode: 0 });
    });

    it('reports a workload that exits non-zero as failed with its exit code', async () => {
      const fleet = setup();
      const order = contractOrder(fleet, 1, { kind: 'exit', code: 3, afterSeconds: 1 });
      const { handle } = await fleet.adapter.place(order);
      const status = await waitForState(fleet, order, handle, ['completed', 'failed', 'stopped']);
      expect(status).toMatchObject({ state: 'failed', exitCode: 3 });
    });

    it('sends SIGTERM when a preemption notice starts; a workload that exits on it is stopped', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 1, long);
      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: fleet.graceSeconds });
      const status = await waitForState(fleet, order, handle, ['stopped', 'completed', 'failed'], STOPPED_BY_MARKET);
      expect(status.state).toBe('stopped');
      const seen = await waitForObservation(fleet, order.leaseId, (o) => o.signals.length > 0);
      expect(seen.signals).toContain('SIGTERM');
      expect(seen.alive ?? false).toBe(false);
    });

    it('stops a workload that ignores SIGTERM at the end of the notice, not before', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 1, { kind: 'ignore-term', seconds: 60 });
      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: fleet.graceSeconds });
      const noticed = await waitForObservation(fleet, order.leaseId, (o) => o.signals.includes('SIGTERM'));
      expect(noticed.signals).toContain('SIGTERM');
      expect((await fleet.adapter.status(order.leaseId, handle)).state).toBe('running');
      const status = await waitForState(fleet, order, handle, ['stopped', 'completed', 'failed'], STOPPED_BY_MARKET);
      expect(status.state).toBe('stopped');
      const seen = await waitForObservation(fleet, order.leaseId, (o) => o.alive !== true);
      expect(seen.alive ?? false).toBe(false);
    });

    it('terminates a running workload', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 1, long);
      await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
      const status = await waitForState(fleet, order, handle, ['stopped', 'completed', 'failed'], STOPPED_BY_MARKET);
      expect(status.state).toBe('stopped');
      const seen = await waitForObservation(fleet, order.leaseId, (o) => o.alive !== true);
      expect(seen.alive ?? false).toBe(false);
    });

    it('a fresh adapter instance (a restarted market, another replica) sees the workload run, stops it, and reads it stopped', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 1, long);
      const restarted = fleet.fresh();
      expect((await restarted.status(order.leaseId, handle)).state).toBe('running');
      expect((await restarted.place(order)).handle).toBe(handle);
      await restarted.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
      const status = await waitForState(
        { ...fleet, adapter: restarted },
        order,
        handle,
        ['stopped', 'completed', 'failed'],
        STOPPED_BY_MARKET,
      );
      expect(status.state).toBe('stopped');
      const seen = await waitForObservation(fleet, order.leaseId, (o) => o.alive !== true);
      expect(seen.starts).toBe(1);
      expect(seen.alive ?? false).toBe(false);
    });

    it('after a preemption by one instance, a fresh instance reads the stopped workload as stopped, also once the platform has forgotten it', async () => {
      const fleet = setup();
      const { order, handle } = await placeRunning(fleet, 1, long);
      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: fleet.graceSeconds });
      await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
      await waitForObservation(fleet, order.leaseId, (o) => o.alive !== true);
      await fleet.forget?.(order.leaseId, handle);
      const restarted = fleet.fresh();
      // The market says what it did (a stop order is due or done): nothing in the adapter's memory.
      const status = await waitForState(
        { ...fleet, adapter: restarted },
        order,
        handle,
        ['stopped', 'completed', 'failed'],
        STOPPED_BY_MARKET,
      );
      expect(status.state).toBe('stopped');
    });

    it('does not start a second copy when the same place order is repeated, at once or later', async () => {
      const fleet = setup();
      const order = contractOrder(fleet, 1, long);
      const [first, concurrent] = await Promise.all([fleet.adapter.place(order), fleet.adapter.place(order)]);
      await waitForState(fleet, order, first.handle, ['running']);
      const later = await fleet.adapter.place(order);
      expect(concurrent.handle).toBe(first.handle);
      expect(later.handle).toBe(first.handle);
      await fleet.pass(500);
      expect((await waitForObservation(fleet, order.leaseId, (o) => o.starts > 0)).starts).toBe(1);
      await fleet.adapter.terminate({ leaseId: order.leaseId, handle: first.handle, graceSeconds: 0 });
    });

    it('treats preempting or terminating a finished lease as a no-op', async () => {
      const fleet = setup();
      const order = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 0 });
      const { handle } = await fleet.adapter.place(order);
      await waitForState(fleet, order, handle, ['completed']);
      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: fleet.graceSeconds });
      await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
      expect((await fleet.adapter.status(order.leaseId, handle, STOPPED_BY_MARKET)).state).toBe('completed');
    });

    it('rejects a placement on a node the fleet does not have as a permanent error', async () => {
      const fleet = setup();
      const unknown = { ...fleet.node, nodeId: 'node-missing', externalId: 'no-such-node-7' };
      const error = await fleet.adapter.place(contractOrder(fleet, 1, long, unknown)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AdapterError);
      expect((error as AdapterError).kind).toBe('permanent');
    });

    it('rejects asking for more GPUs than the node has as a permanent error', async () => {
      const fleet = setup();
      const error = await fleet.adapter.place(contractOrder(fleet, fleet.node.gpus + 1, long)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AdapterError);
      expect((error as AdapterError).kind).toBe('permanent');
    });
  });
}
