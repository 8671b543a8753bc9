import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/app.entities.js';
import { PgSimulatedFleetStore } from '../../src/modules/dispatch/adapters/pg-simulated-fleet-store.js';
import { AdapterError } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import {
  MemorySimulatedFleetStore,
  type SimulatedFleetStore,
} from '../../src/modules/dispatch/adapters/simulated-fleet-store.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { createDataSource } from '../../src/platform/database/database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { adapterContract, contractOrder, type ContractFleet } from './contract/adapter-contract.js';

interface FleetBacking {
  readonly store: SimulatedFleetStore;
  /** Workloads the fleet holds for the lease, however many instances started them. */
  countStarts?(leaseId: string): Promise<number>;
  forget(leaseId: string): Promise<void>;
}

function memoryBacking(): FleetBacking {
  const store = new MemorySimulatedFleetStore([{ externalId: 'sim-node-1', gpus: 8 }]);
  return { store, forget: async (leaseId) => store.forget(leaseId) };
}

function simulatedFleet(
  options: { timeScale?: number; backing?: FleetBacking } = {},
): ContractFleet & { adapter: SimulatedAdapter; clock: { now: number } } {
  const clock = { now: Date.parse('2026-11-22T00:00:00Z') };
  const backing = options.backing ?? memoryBacking();
  const instances: SimulatedAdapter[] = [];
  const instance = () => {
    const made = new SimulatedAdapter({ store: backing.store, now: () => clock.now, timeScale: options.timeScale });
    instances.push(made);
    return made;
  };
  const adapter = instance();
  return {
    adapter,
    fresh: instance,
    clock,
    node: { nodeId: 'node-1', externalId: 'sim-node-1', gpus: 8, gpuType: 'h100' },
    graceSeconds: 30,
    settleMs: 120_000,
    workload: () => ({ command: ['train.py'] }),
    prepare(leaseId, behaviour) {
      if (behaviour.kind === 'exit') adapter.failWorkload(leaseId, behaviour.code, behaviour.afterSeconds);
      if (behaviour.kind === 'ignore-term') adapter.ignoreTerm(leaseId);
    },
    async observe(leaseId) {
      await adapter.workloadOf(leaseId);
      return {
        starts: backing.countStarts
          ? await backing.countStarts(leaseId)
          : instances.reduce((sum, a) => sum + a.startsOf(leaseId), 0),
        placements: (adapter.placementOf(leaseId) ?? []).map((p) => ({
          externalId: p.externalId,
          gpuIndices: [...p.gpuIndices],
        })),
        signals: [...adapter.signalsOf(leaseId)],
      };
    },
    async pass(ms) {
      clock.now += ms;
    },
    forget: async (leaseId) => backing.forget(leaseId),
  };
}

adapterContract('simulated', () => simulatedFleet());

// The fleets the service builds keep their workloads in PostgreSQL: each contract case gets a
// provider (a fleet) of its own in one test database.
let database: TestDatabase | undefined;
let dataSource: DataSource | undefined;
const pgFleets: Array<Promise<void>> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataSource = createDataSource(database.url, ENTITIES, 4);
  await dataSource.initialize();
});

afterAll(async () => {
  await Promise.allSettled(pgFleets);
  await dataSource?.destroy();
  await database?.drop();
});

function pgBacking(): FleetBacking {
  const providerId = randomUUID();
  const ready = (async () => {
    await dataSource!.query(`INSERT INTO providers (id, name, adapter) VALUES ($1, 'contract', 'simulated')`, [
      providerId,
    ]);
    await dataSource!.query(
      `INSERT INTO nodes (id, provider_id, external_id, gpu_model, gpus, region, block, nvlink_domain, reserve_price)
       VALUES ($1, $2, 'sim-node-1', 'H100-SXM-80GB', 8, 'eu-west', 'b1', 'sim-node-1', 1.5)`,
      [randomUUID(), providerId],
    );
  })();
  pgFleets.push(ready);
  const store = new PgSimulatedFleetStore(dataSource!, providerId);
  // The provider's rows are written before the fleet's first call reads them.
  const waitFor = <T>(work: () => Promise<T>) => ready.then(work);
  return {
    store: {
      placeOnce: (leaseId, now, build) => waitFor(() => store.placeOnce(leaseId, now, build)),
      get: (leaseId) => waitFor(() => store.get(leaseId)),
      stop: (leaseId, termAt, killAt) => waitFor(() => store.stop(leaseId, termAt, killAt)),
    },
    async countStarts(leaseId) {
      await ready;
      const [row] = await dataSource!.query(
        `SELECT count(*)::int AS n FROM simulated_workloads WHERE provider_id = $1 AND lease_id = $2`,
        [providerId, leaseId],
      );
      return row.n;
    },
    async forget(leaseId) {
      await dataSource!.query(`DELETE FROM simulated_workloads WHERE provider_id = $1 AND lease_id = $2`, [
        providerId,
        leaseId,
      ]);
    },
  };
}

adapterContract('simulated, fleet in PostgreSQL', () => simulatedFleet({ backing: pgBacking() }));

describe('simulated fleet', () => {
  it('finishes a workload after its run time divided by the time scale', async () => {
    const fleet = simulatedFleet({ timeScale: 60 });
    const order = { ...contractOrder(fleet, 2, { kind: 'run', seconds: 0 }), runtimeSeconds: 3600 };
    const { handle } = await fleet.adapter.place(order);
    fleet.clock.now += 59_000;
    expect((await fleet.adapter.status(order.leaseId, handle)).state).toBe('running');
    fleet.clock.now += 1_000;
    expect(await fleet.adapter.status(order.leaseId, handle)).toEqual({ state: 'completed', exitCode: 0 });
  });

  it('fails the next orders with the injected error kind, then recovers', async () => {
    const fleet = simulatedFleet();
    fleet.adapter.failNextOrders(1, 'retryable');
    fleet.adapter.failNextOrders(1, 'permanent');
    const order = contractOrder(fleet, 1, { kind: 'run', seconds: 60 });
    const first = await fleet.adapter.place(order).catch((e: unknown) => e);
    const second = await fleet.adapter.place(order).catch((e: unknown) => e);
    expect((first as AdapterError).kind).toBe('retryable');
    expect((second as AdapterError).kind).toBe('permanent');
    await expect(fleet.adapter.place(order)).resolves.toHaveProperty('handle');
  });

  it('frees GPUs when a workload ends, and refuses a placement while they are busy as retryable', async () => {
    const fleet = simulatedFleet();
    const full = contractOrder(fleet, 8, { kind: 'run', seconds: 10 });
    await fleet.adapter.place(full);
    const waiting = contractOrder(fleet, 1, { kind: 'run', seconds: 10 });
    const busy = await fleet.adapter.place(waiting).catch((e: unknown) => e);
    expect((busy as AdapterError).kind).toBe('retryable');
    fleet.clock.now += 10_000;
    await expect(fleet.adapter.place(waiting)).resolves.toHaveProperty('handle');
  });
});
