import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AgentOrderQueue } from './agent-order-queue.js';
import type { AgentAck, AgentOrder, MarketLeaseView, StatusReport } from './agent-protocol.js';

interface QueuedOrder {
  readonly node: string;
  readonly order: AgentOrder;
  ack?: AgentAck;
}

const FINAL = new Set(['completed', 'failed', 'stopped']);

/** The agent order queue in process memory: for tests and single-process demos. */
export class InMemoryAgentOrderQueue implements AgentOrderQueue {
  private readonly nodes = new Set<string>();
  private readonly orders: QueuedOrder[] = [];
  private readonly reports = new Map<string, Map<string, StatusReport>>();
  private readonly events = new EventEmitter().setMaxListeners(0);

  registerNode(node: string): void {
    this.nodes.add(node);
  }

  /** Drops every order of the lease, as a market that lost its queue would have. */
  forgetOrdersOf(leaseId: string): void {
    for (let i = this.orders.length - 1; i >= 0; i -= 1) {
      if (this.orders[i]!.order.leaseId === leaseId) this.orders.splice(i, 1);
    }
  }

  async isRegistered(node: string): Promise<boolean> {
    return this.nodes.has(node);
  }

  async enqueue(node: string, order: Omit<AgentOrder, 'id'>): Promise<AgentOrder> {
    const existing = this.orders.findLast(
      (queued) => queued.node === node && queued.order.leaseId === order.leaseId && queued.order.type === order.type,
    );
    if (existing && !(existing.ack && !existing.ack.ok && existing.ack.error.kind === 'retryable'))
      return existing.order;
    const queued: QueuedOrder = { node, order: { ...order, id: randomUUID() } };
    this.orders.push(queued);
    this.events.emit(`node:${node}`);
    return queued.order;
  }

  async pull(node: string, waitMs: number, signal?: AbortSignal): Promise<AgentOrder[]> {
    const pending = () =>
      this.orders.filter((queued) => queued.node === node && !queued.ack).map((queued) => queued.order);
    if (pending().length > 0 || waitMs <= 0) return pending();
    await this.waitFor(`node:${node}`, waitMs, signal);
    return pending();
  }

  async acknowledge(orderId: string, ack: AgentAck): Promise<void> {
    const queued = this.orders.find((candidate) => candidate.order.id === orderId);
    if (!queued) throw new Error(`no agent order ${orderId}`);
    queued.ack ??= ack;
    this.events.emit(`ack:${orderId}`);
  }

  async awaitAck(orderId: string, timeoutMs: number): Promise<AgentAck | undefined> {
    const find = () => this.orders.find((candidate) => candidate.order.id === orderId)?.ack;
    if (find() || timeoutMs <= 0) return find();
    await this.waitFor(`ack:${orderId}`, timeoutMs);
    return find();
  }

  async recordStatus(leaseId: string, node: string, report: StatusReport): Promise<void> {
    const byNode = this.reports.get(leaseId) ?? new Map<string, StatusReport>();
    byNode.set(node, report);
    this.reports.set(leaseId, byNode);
  }

  async statuses(leaseId: string): Promise<ReadonlyMap<string, StatusReport>> {
    return new Map(this.reports.get(leaseId) ?? []);
  }

  async leasesOnNode(node: string): Promise<MarketLeaseView[]> {
    const leaseIds = new Set(
      this.orders
        .filter((queued) => queued.node === node && queued.order.type === 'place' && queued.ack?.ok)
        .map((queued) => queued.order.leaseId),
    );
    return [...leaseIds]
      .map((leaseId) => ({ leaseId, state: this.reports.get(leaseId)?.get(node)?.state ?? 'running' }))
      .filter((lease) => !FINAL.has(lease.state));
  }

  private waitFor(event: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(event, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.events.once(event, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
