import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { FailureStreak } from '../../core/webhooks/delivery-policy.js';
import { updateReturning } from '../../platform/database/update-returning.js';

export interface EndpointRow {
  id: string;
  tenantId: string;
  url: string;
  events: string[];
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  secretRotatedAt: Date | null;
  disabledAt: Date | null;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, tenant_id AS "tenantId", url, events, secret_sealed AS "secretSealed",
  previous_secret_sealed AS "previousSecretSealed", previous_secret_expires_at AS "previousSecretExpiresAt",
  secret_rotated_at AS "secretRotatedAt", disabled_at AS "disabledAt", disabled_reason AS "disabledReason",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Tenants' webhook endpoints. Every read is scoped to one tenant; deleted endpoints are never returned. */
@Injectable()
export class WebhookEndpointsRepository {
  /** Locks the tenant's row, so that concurrent registrations count each other. */
  async countLiveForUpdate(manager: EntityManager, tenantId: string): Promise<number> {
    await manager.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
    const [row]: Array<{ n: number }> = await manager.query(
      'SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL',
      [tenantId],
    );
    return row.n;
  }

  async insert(
    manager: EntityManager,
    row: { id: string; tenantId: string; url: string; events: readonly string[]; secretSealed: string },
  ): Promise<EndpointRow> {
    const [created]: EndpointRow[] = await manager.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret_sealed) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [row.id, row.tenantId, row.url, row.events, row.secretSealed],
    );
    return created;
  }

  async find(manager: EntityManager, tenantId: string, id: string, lock = false): Promise<EndpointRow | null> {
    const rows: EndpointRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL${lock ? ' FOR UPDATE' : ''}`,
      [id, tenantId],
    );
    return rows[0] ?? null;
  }

  async list(manager: EntityManager, tenantId: string): Promise<EndpointRow[]> {
    return manager.query(
      `SELECT ${COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`,
      [tenantId],
    );
  }

  /** Applies the given changes; enabling clears the disabled state and the failure streak. */
  async update(
    manager: EntityManager,
    id: string,
    changes: { url?: string; events?: readonly string[]; enabled?: boolean; disabledReason?: string },
  ): Promise<EndpointRow> {
    const [row] = await updateReturning<EndpointRow>(
      manager,
      `UPDATE webhook_endpoints SET
          url = COALESCE($2, url),
          events = COALESCE($3::text[], events),
          disabled_at = CASE WHEN $4::boolean IS NULL THEN disabled_at WHEN $4 THEN NULL ELSE COALESCE(disabled_at, now()) END,
          disabled_reason = CASE WHEN $4::boolean IS NULL THEN disabled_reason WHEN $4 THEN NULL ELSE COALESCE(disabled_reason, $5) END,
          consecutive_failures = CASE WHEN $4::boolean THEN 0 ELSE consecutive_failures END,
          failing_since = CASE WHEN $4::boolean THEN NULL ELSE failing_since END,
          updated_at = now()
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, changes.url ?? null, changes.events ?? null, changes.enabled ?? null, changes.disabledReason ?? null],
    );
    return row;
  }

  async rotate(
    manager: EntityManager,
    id: string,
    secretSealed: string,
    previousSealed: string | null,
    previousExpiresAt: Date | null,
  ): Promise<EndpointRow> {
    const [row] = await updateReturning<EndpointRow>(
      manager,
      `UPDATE webhook_endpoints SET secret_sealed = $2, previous_secret_sealed = $3, previous_secret_expires_at = $4,
              secret_rotated_at = now(), updated_at = now()
        WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, secretSealed, previousSealed, previousExpiresAt],
    );
    return row;
  }

  /** Deleted endpoints keep their row (deliveries point at it) but lose their secrets. */
  async softDelete(manager: EntityManager, id: string): Promise<void> {
    await manager.query(
      `UPDATE webhook_endpoints SET deleted_at = now(), secret_sealed = NULL, previous_secret_sealed = NULL,
              previous_secret_expires_at = NULL, updated_at = now()
        WHERE id = $1`,
      [id],
    );
  }

  /** One more failed attempt in the endpoint's current streak; returns the streak. */
  async noteFailure(manager: EntityManager, id: string, at: Date): Promise<FailureStreak> {
    const [row] = await updateReturning<{ failures: number; since: Date }>(
      manager,
      `UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, $2)
        WHERE id = $1 RETURNING consecutive_failures AS failures, failing_since AS since`,
      [id, at],
    );
    return { failures: row.failures, since: row.since.getTime() };
  }

  async disable(manager: EntityManager, id: string, reason: string): Promise<void> {
    await manager.query(
      `UPDATE webhook_endpoints SET disabled_at = now(), disabled_reason = $2, updated_at = now() WHERE id = $1 AND disabled_at IS NULL`,
      [id, reason],
    );
  }

  /** Every live endpoint's sealed secrets, for re-sealing under a new key. */
  async sealedSecrets(
    manager: EntityManager,
  ): Promise<Array<{ id: string; secretSealed: string; previousSecretSealed: string | null }>> {
    return manager.query(
      `SELECT id, secret_sealed AS "secretSealed", previous_secret_sealed AS "previousSecretSealed"
         FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY id FOR UPDATE`,
    );
  }

  async reseal(
    manager: EntityManager,
    id: string,
    secretSealed: string,
    previousSecretSealed: string | null,
  ): Promise<void> {
    await manager.query('UPDATE webhook_endpoints SET secret_sealed = $2, previous_secret_sealed = $3 WHERE id = $1', [
      id,
      secretSealed,
      previousSecretSealed,
    ]);
  }
}
