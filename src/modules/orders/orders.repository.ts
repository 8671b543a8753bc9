import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OutboxRepository } from '../../platform/outbox/outbox.repository.js';

export type OrderType = 'place' | 'preempt' | 'terminate';
export type OrderState = 'pending' | 'sent' | 'done' | 'failed' | 'withdrawn';

export interface NewOrder {
  readonly leaseId: string;
  readonly providerId: string;
  readonly type: OrderType;
  readonly graceSeconds?: number;
  readonly notBefore?: Date;
}

export interface OrderRow {
  id: string;
  lease_id: string;
  provider_id: string;
  type: OrderType;
  state: OrderState;
  attempts: number;
  handle: string | null;
  grace_seconds: number | null;
  not_before: Date;
}

/** SQL condition on the order row `order`: a stop of its lease that is due or carried out. */
export const stopRequestedSql = (order: string): string =>
  `${order}.type IN ('preempt', 'terminate') AND ${order}.state <> 'withdrawn' AND ${order}.not_before <= now()`;

/** Orders to provider adapters; every new order is announced through the outbox. */
@Injectable()
export class OrdersRepository {
  constructor(private readonly outbox: OutboxRepository) {}

  async create(manager: EntityManager, orders: readonly NewOrder[]): Promise<string[]> {
    if (orders.length === 0) return [];
    const ids = orders.map(() => randomUUID());
    const now = new Date();
    await manager.query(
      `INSERT INTO orders (id, lease_id, provider_id, type, grace_seconds, not_before)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[])`,
      [
        ids,
        orders.map((o) => o.leaseId),
        orders.map((o) => o.providerId),
        orders.map((o) => o.type),
        orders.map((o) => o.graceSeconds ?? null),
        orders.map((o) => o.notBefore ?? now),
      ],
    );
    await this.outbox.add(
      manager,
      ids.map((orderId, i) => ({
        jobName: 'order.dispatch',
        payload: { orderId },
        jobId: orderId,
        deliverAt: orders[i].notBefore,
      })),
    );
    return ids;
  }

  async lock(manager: EntityManager, orderId: string): Promise<OrderRow | null> {
    const rows: OrderRow[] = await manager.query('SELECT * FROM orders WHERE id = $1 FOR UPDATE', [orderId]);
    return rows[0] ?? null;
  }

  async update(
    manager: EntityManager,
    orderId: string,
    changes: { state?: OrderState; handle?: string | null; lastError?: string | null; attempts?: number },
  ): Promise<void> {
    await manager.query(
      `UPDATE orders SET state = COALESCE($2, state), handle = COALESCE($3, handle),
              last_error = CASE WHEN $5 THEN $4 ELSE last_error END, attempts = COALESCE($6, attempts), updated_at = now()
        WHERE id = $1`,
      [
        orderId,
        changes.state ?? null,
        changes.handle ?? null,
        changes.lastError ?? null,
        changes.lastError !== undefined,
        changes.attempts ?? null,
      ],
    );
  }

  /** Withdraws stop orders not yet carried out (a lease that won its place back). */
  async withdrawPendingStops(manager: EntityManager, leaseIds: readonly string[]): Promise<void> {
    if (leaseIds.length === 0) return;
    await manager.query(
      `UPDATE orders SET state = 'withdrawn', updated_at = now()
        WHERE lease_id = ANY($1::uuid[]) AND type IN ('preempt', 'terminate') AND state = 'pending'`,
      [leaseIds],
    );
  }

  /**
   * Whether the lease's preemption notice (its SIGTERM) was carried out recently enough that
   * the platform's grace plus `slackSeconds` has not passed at `at`.
   */
  async noticeGraceOpen(manager: EntityManager, leaseId: string, at: Date, slackSeconds: number): Promise<boolean> {
    const rows: Array<{ open: boolean }> = await manager.query(
      `SELECT EXISTS (SELECT 1 FROM orders o WHERE o.lease_id = $1 AND o.type = 'preempt' AND o.state = 'done'
                        AND o.updated_at + make_interval(secs => COALESCE(o.grace_seconds, 0) + $3) >= $2) AS open`,
      [leaseId, at, slackSeconds],
    );
    return rows[0]?.open === true;
  }

  /** The handle each provider returned when the lease was placed. */
  /**
   * The handles of a lease's places, by provider. `lock`: takes the place rows' locks too (a
   * stop deciding that nothing was placed must not race a place finishing).
   */
  async placeHandles(manager: EntityManager, leaseId: string, lock = false): Promise<Map<string, string>> {
    const rows: Array<{ provider_id: string; handle: string | null }> = await manager.query(
      `SELECT provider_id, handle FROM orders WHERE lease_id = $1 AND type = 'place' ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
      [leaseId],
    );
    return new Map(rows.filter((r) => r.handle !== null).map((r) => [r.provider_id, r.handle!]));
  }

  /** Withdraws the lease's places on one provider not yet carried out (a stop found nothing placed there). */
  async withdrawPlaces(manager: EntityManager, leaseId: string, providerId: string): Promise<void> {
    await manager.query(
      `UPDATE orders SET state = 'withdrawn', updated_at = now() WHERE lease_id = $1 AND provider_id = $2 AND type = 'place' AND state IN ('pending', 'sent')`,
      [leaseId, providerId],
    );
  }
}
