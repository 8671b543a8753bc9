import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentOrderQueue } from '../../src/modules/dispatch/adapters/nvidia-agent/agent-order-queue.js';
import type { PlaceOrder } from '../../src/modules/dispatch/adapters/provider-adapter.js';

/**
 * The behaviour of an AgentOrderQueue that the nvidia-agent adapter and the agent endpoints rely
 * on. Run against the in-memory queue and the PostgreSQL queue alike, so that the two agree.
 */
export interface QueueUnderTest {
  readonly queue: AgentOrderQueue;
  /** Makes `node` a registered node of the queue's provider. */
  register(node: string): Promise<void>;
  close(): Promise<void>;
}

const place = (leaseId: string, node: string): PlaceOrder => ({
  leaseId,
  bidId: 'bid-1',
  tenantId: 'tenant-1',
  gpuModel: 'H100-SXM-80GB',
  nodes: [{ nodeId: 'n-1', externalId: node, gpus: 2 }],
  workload: { command: ['/bin/true'], env: { A: '1' } },
  runtimeSeconds: 60,
});

const lease = () => `lease-${randomUUID()}`;

export function agentOrderQueueContract(name: string, open: () => Promise<QueueUnderTest>): void {
  describe(`agent order queue contract: ${name}`, () => {
    let subject: QueueUnderTest;
    let queue: AgentOrderQueue;
    let node: string;
    const fresh = async () => {
      node = `node-${randomUUID().slice(0, 8)}`;
      await subject.register(node);
      return node;
    };

    beforeAll(async () => {
      subject = await open();
      queue = subject.queue;
    });
    afterAll(async () => subject?.close());

    it('knows which nodes are registered', async () => {
      const registered = await fresh();
      expect(await queue.isRegistered(registered)).toBe(true);
      expect(await queue.isRegistered(`${registered}-other`)).toBe(false);
    });

    it('delivers unacknowledged orders oldest first with their payload, again on every pull until acknowledged', async () => {
      const n = await fresh();
      const a = lease();
      const b = lease();
      const first = await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      const second = await queue.enqueue(n, { type: 'preempt', leaseId: b, graceSeconds: 5 });
      expect(await queue.pull(n, 0)).toEqual([
        { id: first.id, type: 'place', leaseId: a, place: place(a, n) },
        { id: second.id, type: 'preempt', leaseId: b, graceSeconds: 5 },
      ]);
      expect((await queue.pull(n, 0)).map((o) => o.id)).toEqual([first.id, second.id]);
      await queue.acknowledge(first.id, { ok: true, handle: 'h' });
      expect((await queue.pull(n, 0)).map((o) => o.id)).toEqual([second.id]);
    });

    it("never hands one node's orders to another node", async () => {
      const n = await fresh();
      const other = await fresh();
      const a = lease();
      await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      expect(await queue.pull(other, 0)).toEqual([]);
    });

    it('returns the existing order for a repeated enqueue, unless that order was refused retryably', async () => {
      const n = await fresh();
      const a = lease();
      const first = await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      expect((await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) })).id).toBe(first.id);
      await queue.acknowledge(first.id, { ok: false, error: { kind: 'retryable', message: 'GPUs busy' } });
      const second = await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      expect(second.id).not.toBe(first.id);
      expect((await queue.pull(n, 0)).map((o) => o.id)).toEqual([second.id]);
      await queue.acknowledge(second.id, { ok: false, error: { kind: 'permanent', message: 'no command' } });
      expect((await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) })).id).toBe(second.id);
      // Another type of order for the same lease is its own order.
      const stop = await queue.enqueue(n, { type: 'terminate', leaseId: a, graceSeconds: 0 });
      expect([first.id, second.id]).not.toContain(stop.id);
    });

    it('keeps the first acknowledgement and refuses to acknowledge an unknown order', async () => {
      const n = await fresh();
      const a = lease();
      const order = await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      await queue.acknowledge(order.id, { ok: true, handle: 'first', gpuIndices: [0, 1] });
      await queue.acknowledge(order.id, { ok: false, error: { kind: 'permanent', message: 'late' } });
      expect(await queue.awaitAck(order.id, 0)).toEqual({ ok: true, handle: 'first', gpuIndices: [0, 1] });
      await expect(queue.acknowledge(randomUUID(), { ok: true })).rejects.toThrow(/no agent order/);
    });

    it('answers a long poll as soon as an order arrives, and empty when the wait ends without one', async () => {
      const n = await fresh();
      const a = lease();
      let started = Date.now();
      expect(await queue.pull(n, 400)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(380);

      started = Date.now();
      const waiting = queue.pull(n, 10_000);
      setTimeout(() => void queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) }), 300);
      const orders = await waiting;
      expect(orders.map((o) => o.leaseId)).toEqual([a]);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('ends a long poll early when its caller goes away', async () => {
      const n = await fresh();
      const aborted = new AbortController();
      const started = Date.now();
      setTimeout(() => aborted.abort(), 200);
      expect(await queue.pull(n, 10_000, aborted.signal)).toEqual([]);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('waits for an acknowledgement that comes later, and gives up after the timeout', async () => {
      const n = await fresh();
      const a = lease();
      const order = await queue.enqueue(n, { type: 'place', leaseId: a, place: place(a, n) });
      expect(await queue.awaitAck(order.id, 300)).toBeUndefined();
      setTimeout(() => void queue.acknowledge(order.id, { ok: true, handle: 'h' }), 300);
      expect(await queue.awaitAck(order.id, 10_000)).toEqual({ ok: true, handle: 'h' });
    });

    it("keeps each node's latest status report of a lease", async () => {
      const a = lease();
      await queue.recordStatus(a, 'x', { state: 'running', node: 'x' });
      await queue.recordStatus(a, 'y', { state: 'running', node: 'y' });
      await queue.recordStatus(a, 'x', { state: 'failed', exitCode: 3, message: 'exited 3', node: 'x' });
      const statuses = await queue.statuses(a);
      expect(Object.fromEntries(statuses)).toEqual({
        x: { state: 'failed', exitCode: 3, message: 'exited 3', node: 'x' },
        y: { state: 'running', node: 'y' },
      });
      expect((await queue.statuses(lease())).size).toBe(0);
    });

    it('lists the leases placed on a node that have not reported an end', async () => {
      const n = await fresh();
      const [running, reported, ended, refused, unacked] = [lease(), lease(), lease(), lease(), lease()];
      for (const id of [running, reported, ended, refused, unacked])
        await queue.enqueue(n, { type: 'place', leaseId: id, place: place(id, n) });
      const orders = await queue.pull(n, 0);
      const idOf = (leaseId: string) => orders.find((o) => o.leaseId === leaseId)!.id;
      for (const id of [running, reported, ended]) await queue.acknowledge(idOf(id), { ok: true });
      await queue.acknowledge(idOf(refused), { ok: false, error: { kind: 'permanent', message: 'no' } });
      await queue.recordStatus(reported, n, { state: 'running', node: n });
      await queue.recordStatus(ended, n, { state: 'completed', exitCode: 0, node: n });
      expect(await queue.leasesOnNode(n)).toEqual([
        { leaseId: running, state: 'running' },
        { leaseId: reported, state: 'running' },
      ]);
    });
  });
}
