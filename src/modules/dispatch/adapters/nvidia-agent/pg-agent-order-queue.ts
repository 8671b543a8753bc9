import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import type { AgentOrderQueue } from './agent-order-queue.js';
import type { AgentAck, AgentOrder, AgentOrderType, MarketLeaseView, StatusReport } from './agent-protocol.js';

/**
 * The agent order queue of one provider in PostgreSQL (migrations/*-agent-orders.sql), with the
 * in-memory queue's semantics. Waiting (long polls, acks) polls the table instead of listening
 * for notifications: any replica may have written the row, and a poll every ~200 ms costs one
 * indexed query per waiting agent.
 */
export interface PgAgentOrderQueueOptions {
  /** How often a waiting pull or awaitAck looks again. */
  readonly pollIntervalMs?: number;
}

interface OrderRow {
  id: string;
  type: AgentOrderType;
  lease_id: string;
  place: AgentOrder['place'] | null;
  grace_seconds: number | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ORDER_COLUMNS = 'id, type, lease_id, place, grace_seconds';

function toOrder(row: OrderRow): AgentOrder {
  return {
    id: row.id,
    type: row.type,
    leaseId: row.lease_id,
    ...(row.place !== null ? { place: row.place } : {}),
    ...(row.grace_seconds !== null ? { graceSeconds: row.grace_seconds } : {}),
  };
}

export class PgAgentOrderQueue implements AgentOrderQueue {
  private readonly pollIntervalMs: number;

  constructor(
    private readonly dataSource: DataSource,
    readonly providerId: string,
    options: PgAgentOrderQueueOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
  }

  async isRegistered(node: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      'SELECT 1 FROM nodes WHERE provider_id = $1 AND external_id = $2',
      [this.providerId, node],
    );
    return rows.length > 0;
  }

  /** Whether the order exists and was queued for one of this provider's nodes. */
  async hasOrder(orderId: string): Promise<boolean> {
    if (!UUID.test(orderId)) return false;
    const rows: unknown[] = await this.dataSource.query(
      'SELECT 1 FROM agent_orders WHERE id = $1 AND provider_id = $2',
      [orderId, this.providerId],
    );
    return rows.length > 0;
  }

  async enqueue(node: string, order: Omit<AgentOrder, 'id'>): Promise<AgentOrder> {
    // The partial unique index makes "insert unless a live one exists" atomic across replicas.
    const inserted: OrderRow[] = await this.dataSource.query(
      `INSERT INTO agent_orders (id, provider_id, node, lease_id, type, place, grace_seconds)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
       ON CONFLICT (provider_id, node, lease_id, type) WHERE NOT refused_retryable DO NOTHING
       RETURNING ${ORDER_COLUMNS}`,
      [
        randomUUID(),
        this.providerId,
        node,
        order.leaseId,
        order.type,
        order.place === undefined ? null : JSON.stringify(order.place),
        order.graceSeconds ?? null,
      ],
    );
    if (inserted[0]) return toOrder(inserted[0]);
    const [existing]: OrderRow[] = await this.dataSource.query(
      `SELECT ${ORDER_COLUMNS} FROM agent_orders
        WHERE provider_id = $1 AND node = $2 AND lease_id = $3 AND type = $4 AND NOT refused_retryable`,
      [this.providerId, node, order.leaseId, order.type],
    );
    // Only a concurrent retryable refusal between the two statements gets here: queue afresh.
    return existing ? toOrder(existing) : this.enqueue(node, order);
  }

  async pull(node: string, waitMs: number, signal?: AbortSignal): Promise<AgentOrder[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const rows: OrderRow[] = await this.dataSource.query(
        `SELECT ${ORDER_COLUMNS} FROM agent_orders WHERE provider_id = $1 AND node = $2 AND ack IS NULL ORDER BY seq`,
        [this.providerId, node],
      );
      const left = deadline - Date.now();
      if (rows.length > 0 || left <= 0 || signal?.aborted) return rows.map(toOrder);
      await this.pause(Math.min(this.pollIntervalMs, left), signal);
    }
  }

  async acknowledge(orderId: string, ack: AgentAck): Promise<void> {
    if (!(await this.hasOrder(orderId))) throw new Error(`no agent order ${orderId}`);
    const refusedRetryable = !ack.ok && ack.error.kind === 'retryable';
    await this.dataSource.query(
      `UPDATE agent_orders SET ack = $3::jsonb, acked_at = now(), refused_retryable = $4
        WHERE id = $1 AND provider_id = $2 AND ack IS NULL`,
      [orderId, this.providerId, JSON.stringify(ack), refusedRetryable],
    );
  }

  async awaitAck(orderId: string, timeoutMs: number): Promise<AgentAck | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [row]: Array<{ ack: AgentAck | null }> = UUID.test(orderId)
        ? await this.dataSource.query('SELECT ack FROM agent_orders WHERE id = $1 AND provider_id = $2', [
            orderId,
            this.providerId,
          ])
        : [];
      const left = deadline - Date.now();
      if (row?.ack || left <= 0) return row?.ack ?? undefined;
      await this.pause(Math.min(this.pollIntervalMs, left));
    }
  }

  async recordStatus(leaseId: string, node: string, report: StatusReport): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO agent_status_reports (provider_id, lease_id, node, state, report) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (provider_id, lease_id, node) DO UPDATE SET state = EXCLUDED.state, report = EXCLUDED.report, reported_at = now()`,
      [this.providerId, leaseId, node, report.state, JSON.stringify(report)],
    );
  }

  async statuses(leaseId: string): Promise<ReadonlyMap<string, StatusReport>> {
    const rows: Array<{ node: string; report: StatusReport }> = await this.dataSource.query(
      'SELECT node, report FROM agent_status_reports WHERE provider_id = $1 AND lease_id = $2 ORDER BY node',
      [this.providerId, leaseId],
    );
    return new Map(rows.map((row) => [row.node, row.report]));
  }

  async leasesOnNode(node: string): Promise<MarketLeaseView[]> {
    return this.dataSource.query(
      `SELECT o.lease_id AS "leaseId", COALESCE(r.state, 'running') AS state
         FROM (SELECT lease_id, min(seq) AS first FROM agent_orders
                WHERE provider_id = $1 AND node = $2 AND type = 'place' AND (ack ->> 'ok')::boolean
                GROUP BY lease_id) o
         LEFT JOIN agent_status_reports r ON r.provider_id = $1 AND r.lease_id = o.lease_id AND r.node = $2
        WHERE COALESCE(r.state, 'running') NOT IN ('completed', 'failed', 'stopped')
        ORDER BY o.first`,
      [this.providerId, node],
    );
  }

  /** Sleeps; an aborted signal ends the sleep early. */
  private async pause(ms: number, signal?: AbortSignal): Promise<void> {
    await sleep(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
  }
}
