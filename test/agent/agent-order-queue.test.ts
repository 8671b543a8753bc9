import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/app.entities.js';
import { InMemoryAgentOrderQueue } from '../../src/modules/dispatch/adapters/nvidia-agent/in-memory-agent-order-queue.js';
import { PgAgentOrderQueue } from '../../src/modules/dispatch/adapters/nvidia-agent/pg-agent-order-queue.js';
import { createDataSource } from '../../src/platform/database/database.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { agentOrderQueueContract } from './agent-order-queue.contract.js';

let database: TestDatabase;
const sources: DataSource[] = [];

/** A connection pool of its own: what another replica of the service would have. */
async function replica(): Promise<DataSource> {
  const source = createDataSource(database.url, ENTITIES, 4);
  await source.initialize();
  sources.push(source);
  return source;
}

async function createProvider(source: DataSource): Promise<string> {
  const [row] = await source.query(
    `INSERT INTO providers (name, adapter) VALUES ('agents', 'nvidia-agent') RETURNING id`,
  );
  return row.id;
}

async function registerNode(source: DataSource, providerId: string, node: string): Promise<void> {
  await source.query(
    `INSERT INTO nodes (id, provider_id, external_id, gpu_model, gpus, region, block, nvlink_domain, reserve_price)
     VALUES ($1, $2, $3, 'H100-SXM-80GB', 8, 'eu-west', 'b1', $3, 1.5)`,
    [randomUUID(), providerId, node],
  );
}

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const source of sources) if (source.isInitialized) await source.destroy();
  await database?.drop();
});

agentOrderQueueContract('in memory', async () => {
  const queue = new InMemoryAgentOrderQueue();
  return { queue, register: async (node) => queue.registerNode(node), close: async () => undefined };
});

agentOrderQueueContract('PostgreSQL', async () => {
  const source = await replica();
  const providerId = await createProvider(source);
  return {
    queue: new PgAgentOrderQueue(source, providerId),
    register: (node) => registerNode(source, providerId, node),
    close: async () => undefined,
  };
});

describe('PostgreSQL agent order queue across providers and replicas', () => {
  it("sees only its own provider's nodes, orders and reports", async () => {
    const source = await replica();
    const [mine, theirs] = [await createProvider(source), await createProvider(source)];
    await registerNode(source, theirs, 'shared-name');
    const ours = new PgAgentOrderQueue(source, mine);
    const other = new PgAgentOrderQueue(source, theirs);
    expect(await ours.isRegistered('shared-name')).toBe(false);
    const order = await other.enqueue('shared-name', { type: 'terminate', leaseId: 'lease-1', graceSeconds: 0 });
    expect(await ours.pull('shared-name', 0)).toEqual([]);
    expect(await ours.hasOrder(order.id)).toBe(false);
    await expect(ours.acknowledge(order.id, { ok: true })).rejects.toThrow(/no agent order/);
    await other.recordStatus('lease-1', 'shared-name', { state: 'running', node: 'shared-name' });
    expect((await ours.statuses('lease-1')).size).toBe(0);
    expect(await other.hasOrder(order.id)).toBe(true);
  });

  it("wakes a long poll served by one replica when another replica queues the node's order", async () => {
    const [a, b] = [await replica(), await replica()];
    const providerId = await createProvider(a);
    await registerNode(a, providerId, 'gpu-r');
    const serving = new PgAgentOrderQueue(a, providerId);
    const dispatching = new PgAgentOrderQueue(b, providerId);
    const started = Date.now();
    const poll = serving.pull('gpu-r', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const order = await dispatching.enqueue('gpu-r', { type: 'terminate', leaseId: 'lease-r', graceSeconds: 0 });
    expect((await poll).map((o) => o.id)).toEqual([order.id]);
    expect(Date.now() - started).toBeLessThan(3_000);
    const waiting = dispatching.awaitAck(order.id, 10_000);
    await serving.acknowledge(order.id, { ok: true, handle: 'h' });
    expect(await waiting).toEqual({ ok: true, handle: 'h' });
  });

  it('queues one order when two replicas enqueue the same order at the same time', async () => {
    const [a, b] = [await replica(), await replica()];
    const providerId = await createProvider(a);
    const queues = [new PgAgentOrderQueue(a, providerId), new PgAgentOrderQueue(b, providerId)];
    for (let i = 0; i < 10; i += 1) {
      const leaseId = `lease-race-${i}`;
      const orders = await Promise.all(
        queues.flatMap((q) => [q, q].map((x) => x.enqueue('gpu-x', { type: 'preempt', leaseId, graceSeconds: 1 }))),
      );
      expect(new Set(orders.map((o) => o.id)).size).toBe(1);
    }
    expect(await queues[0]!.pull('gpu-x', 0)).toHaveLength(10);
  });
});
