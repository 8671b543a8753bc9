import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { updateReturning } from '../../platform/database/update-returning.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed'];

/** A delivery taken by one worker for one attempt, with what it needs to send it. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  /** Attempts made before this one. */
  attempts: number;
  createdAt: Date;
  url: string;
  secretSealed: string | null;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  endpointDisabledAt: Date | null;
  endpointDeletedAt: Date | null;
  eventId: string;
  eventType: string;
  eventCreatedAt: Date;
  eventData: unknown;
}

export interface AttemptRecord {
  readonly startedAt: Date;
  readonly statusCode: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
}

export interface DeliveryRow {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  redeliveryOf: string | null;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  deliveredAt: Date | null;
  cursorTime: string;
}

export interface AttemptRow {
  attempt: number;
  startedAt: Date;
  statusCode: number | null;
  latencyMs: number | null;
  error: string | null;
}

const DELIVERY_COLUMNS = `d.id, d.endpoint_id AS "webhookId", d.event_id AS "eventId", e.type AS "eventType", d.redelivery_of AS "redeliveryOf",
  d.status, d.attempts, d.last_status_code AS "lastStatusCode", d.last_latency_ms AS "lastLatencyMs", d.last_error AS "lastError",
  d.last_attempt_at AS "lastAttemptAt", d.next_attempt_at AS "nextAttemptAt", d.created_at AS "createdAt",
  d.delivered_at AS "deliveredAt", d.created_at::text AS "cursorTime"`;

// A job may fire a little before the database's clock reaches the attempt's time.
const CLOCK_SLACK_SECONDS = 2;

/**
 * A transaction-scoped advisory lock per endpoint: it serialises the taking of the endpoint's
 * deliveries, so that whether the endpoint already has a batch in flight is known exactly.
 */
const lockEndpointSql = (endpointId: string) =>
  `pg_advisory_xact_lock(hashtextextended('gpumarket:webhook-endpoint:' || ${endpointId}::text, 0))`;

/** Deliveries and their attempts. Tenant-facing reads are scoped to the tenant and its live endpoints. */
@Injectable()
export class WebhookDeliveriesRepository {
  /**
   * The endpoint of a delivery, whose lock is taken in the caller's transaction; null when the
   * delivery is gone (retention). The delivery's own state does not matter: its job stands for
   * every due delivery of the endpoint.
   */
  async lockEndpointOf(manager: EntityManager, deliveryId: string): Promise<string | null> {
    const rows: Array<{ endpointId: string }> = await manager.query(
      `SELECT endpoint_id AS "endpointId", ${lockEndpointSql('endpoint_id')} FROM webhook_deliveries WHERE id = $1`,
      [deliveryId],
    );
    return rows[0]?.endpointId ?? null;
  }

  async lockEndpoint(manager: EntityManager, endpointId: string): Promise<void> {
    await manager.query(`SELECT ${lockEndpointSql('$1::uuid')}`, [endpointId]);
  }

  /**
   * Takes up to `limit` of the endpoint's due deliveries, longest due first, held for
   * `lockSeconds` so that no other worker sends them; none when the endpoint already has a batch
   * held (its holder takes these next, see WebhookDeliveryService). `own` is the delivery of the
   * job that asks: a job may fire a little before the database's clock reaches its attempt's
   * time, so it alone counts as due that early. Call it in a transaction holding the endpoint's
   * lock (lockEndpointOf), so that "no batch held" is exact.
   */
  async claimDue(
    manager: EntityManager,
    endpointId: string,
    options: { own: string | null; limit: number; lockSeconds: number },
  ): Promise<ClaimedDelivery[]> {
    const rows = await updateReturning<ClaimedDelivery & { nextAttemptAt: Date }>(
      manager,
      `UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $3)
         FROM webhook_endpoints w, market_events e
        WHERE d.id IN (SELECT n.id FROM webhook_deliveries n
                        WHERE n.endpoint_id = $1 AND n.status = 'pending' AND (n.locked_until IS NULL OR n.locked_until < now())
                          AND (n.next_attempt_at <= now() OR (n.id = $2::uuid AND n.next_attempt_at <= now() + make_interval(secs => $5)))
                        ORDER BY n.next_attempt_at, n.created_at, n.id LIMIT $4)
          AND w.id = d.endpoint_id AND e.id = d.event_id
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries h WHERE h.endpoint_id = $1 AND h.locked_until > now())
       RETURNING d.id, d.endpoint_id AS "endpointId", d.attempts, d.created_at AS "createdAt", d.next_attempt_at AS "nextAttemptAt", w.url,
                 w.secret_sealed AS "secretSealed", w.previous_secret_sealed AS "previousSecretSealed",
                 w.previous_secret_expires_at AS "previousSecretExpiresAt", w.disabled_at AS "endpointDisabledAt",
                 w.deleted_at AS "endpointDeletedAt", e.id AS "eventId", e.type AS "eventType",
                 e.created_at AS "eventCreatedAt", e.data AS "eventData"`,
      [endpointId, options.own, options.lockSeconds, options.limit, CLOCK_SLACK_SECONDS],
    );
    // RETURNING keeps no order: the batch goes out in the order the deliveries fell due.
    const key = (r: ClaimedDelivery & { nextAttemptAt: Date }) =>
      [r.nextAttemptAt.getTime(), r.createdAt.getTime(), r.id] as const;
    return rows
      .sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
      })
      .map(({ nextAttemptAt: _, ...delivery }) => delivery);
  }

  /**
   * 2xx answers: done, each with its attempt logged, and the endpoints' failure streaks end.
   * One statement for a whole batch, so no transaction is needed.
   */
  async recordSuccesses(
    manager: EntityManager,
    successes: ReadonlyArray<{ id: string; attempt: AttemptRecord }>,
  ): Promise<void> {
    if (successes.length === 0) return;
    await manager.query(
      `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::int[]) AS v(id, started_at, status_code, latency_ms)
       ), done AS (
         UPDATE webhook_deliveries d SET status = 'succeeded', attempts = d.attempts + 1, last_attempt_at = v.started_at,
                last_status_code = v.status_code, last_latency_ms = v.latency_ms, last_error = NULL, delivered_at = clock_timestamp(),
                next_attempt_at = NULL, locked_until = NULL
           FROM v WHERE d.id = v.id RETURNING d.id, d.endpoint_id, d.attempts, v.started_at, v.status_code, v.latency_ms
       ), logged AS (
         INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms)
         SELECT id, attempts, started_at, status_code, latency_ms FROM done
       )
       UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
        WHERE id IN (SELECT endpoint_id FROM done) AND consecutive_failures > 0`,
      [
        successes.map((s) => s.id),
        successes.map((s) => s.attempt.startedAt),
        successes.map((s) => s.attempt.statusCode),
        successes.map((s) => s.attempt.latencyMs),
      ],
    );
  }

  /** Lets go of deliveries a batch held but did not attempt, for the next claim to take. */
  async release(manager: EntityManager, ids: readonly string[]): Promise<void> {
    if (ids.length > 0)
      await manager.query(
        `UPDATE webhook_deliveries SET locked_until = NULL WHERE id = ANY($1::uuid[]) AND status = 'pending'`,
        [ids],
      );
  }

  /** A failed attempt: pending again until `nextAttemptAt`, or failed for good when that is null. */
  async recordFailure(
    manager: EntityManager,
    id: string,
    attempt: AttemptRecord,
    nextAttemptAt: Date | null,
    finalError?: string,
  ): Promise<number> {
    const [row]: Array<{ attempt: number }> = await manager.query(
      `WITH tried AS (
         UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $2, last_status_code = $3, last_latency_ms = $4,
                last_error = COALESCE($7, $5), status = CASE WHEN $6::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                next_attempt_at = $6, locked_until = NULL
          WHERE id = $1 RETURNING id, attempts
       )
       INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms, error)
       SELECT id, attempts, $2, $3, $4, $5 FROM tried RETURNING attempt`,
      [id, attempt.startedAt, attempt.statusCode, attempt.latencyMs, attempt.error, nextAttemptAt, finalError ?? null],
    );
    return row.attempt;
  }

  /** Gives up every pending delivery of an endpoint (disabled or deleted). */
  async abandonPending(manager: EntityManager, endpointId: string, reason: string): Promise<void> {
    await manager.query(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL, locked_until = NULL
        WHERE endpoint_id = $1 AND status = 'pending'`,
      [endpointId, reason],
    );
  }

  async page(
    manager: EntityManager,
    tenantId: string,
    endpointId: string,
    options: { status?: DeliveryStatus; limit: number; after?: { time: string; id: string } },
  ): Promise<DeliveryRow[]> {
    const params: unknown[] = [endpointId, tenantId];
    let where = 'd.endpoint_id = $1 AND d.tenant_id = $2';
    if (options.status) where += ` AND d.status = $${params.push(options.status)}`;
    if (options.after)
      where += ` AND (d.created_at, d.id) < ($${params.push(options.after.time)}::timestamptz, $${params.push(options.after.id)}::uuid)`;
    return manager.query(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN market_events e ON e.id = d.event_id
        WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT $${params.push(options.limit)}`,
      params,
    );
  }

  /** One delivery of the tenant's live endpoints, or null. */
  async find(manager: EntityManager, tenantId: string, id: string): Promise<DeliveryRow | null> {
    const rows: DeliveryRow[] = await manager.query(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN market_events e ON e.id = d.event_id
         JOIN webhook_endpoints w ON w.id = d.endpoint_id
        WHERE d.id = $1 AND d.tenant_id = $2 AND w.deleted_at IS NULL`,
      [id, tenantId],
    );
    return rows[0] ?? null;
  }

  async attempts(manager: EntityManager, id: string): Promise<AttemptRow[]> {
    return manager.query(
      `SELECT attempt, started_at AS "startedAt", status_code AS "statusCode", latency_ms AS "latencyMs", error
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt`,
      [id],
    );
  }

  /** A new delivery of the same event to the same endpoint. */
  async insertRedelivery(manager: EntityManager, originalId: string, newId: string): Promise<void> {
    await manager.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, event_id, redelivery_of)
       SELECT $2, endpoint_id, tenant_id, event_id, id FROM webhook_deliveries WHERE id = $1`,
      [originalId, newId],
    );
  }

  /**
   * Pending deliveries overdue by `overdueSeconds` whose job is gone (Redis restarted empty, an
   * in-process queue restarted, a worker died mid-attempt): not held, and not waiting in the outbox.
   */
  async overdue(
    manager: EntityManager,
    overdueSeconds: number,
    limit: number,
  ): Promise<Array<{ id: string; attempts: number }>> {
    return manager.query(
      `SELECT d.id, d.attempts FROM webhook_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at < now() - make_interval(secs => $1)
          AND (d.locked_until IS NULL OR d.locked_until < now())
          AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.relayed_at IS NULL AND x.job_name = 'webhook.deliver' AND x.payload->>'deliveryId' = d.id::text)
        ORDER BY d.next_attempt_at LIMIT $2`,
      [overdueSeconds, limit],
    );
  }
}
