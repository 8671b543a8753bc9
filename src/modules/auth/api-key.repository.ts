import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { updateReturning } from '../../platform/database/update-returning.js';
import type { Principal, Role } from './principal.js';

export interface NewApiKey {
  readonly keyHash: string;
  readonly keyPrefix: string;
  readonly role: Role;
  readonly name: string;
  readonly tenantId?: string | null;
  readonly providerId?: string | null;
  readonly expiresAt?: Date | null;
}

/** A key as stored: everything but the secret, which is never stored. */
export interface ApiKeyRow {
  id: string;
  keyHash: string;
  keyPrefix: string;
  role: Role;
  name: string;
  tenantId: string | null;
  providerId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  replacedBy: string | null;
  /** created_at as the database wrote it (microseconds kept), for keyset cursors. */
  cursorTime: string;
}

/** A key that may be used now, with the instant it stops (so a cached copy can honour it). */
export interface UsableKey {
  readonly principal: Principal;
  readonly expiresAt: Date | null;
}

/** Whose keys a read may see: admin sees every key; a tenant or provider only its own. */
export interface KeyScope {
  readonly tenantId?: string;
  readonly providerId?: string;
}

export interface KeyFilter {
  readonly tenantId?: string;
  readonly providerId?: string;
  readonly role?: Role;
  readonly status?: 'active' | 'revoked' | 'expired';
}

const COLUMNS = `k.id, k.key_hash AS "keyHash", k.key_prefix AS "keyPrefix", k.role, k.name, k.tenant_id AS "tenantId",
  k.provider_id AS "providerId", k.created_at AS "createdAt", k.expires_at AS "expiresAt", k.last_used_at AS "lastUsedAt",
  k.revoked_at AS "revokedAt", k.replaced_by AS "replacedBy", k.created_at::text AS "cursorTime"`;

const USABLE = '(k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))';

/** Adds the scope's conditions to `where`, pushing their parameters. */
function scoped(where: string[], params: unknown[], scope: KeyScope): void {
  if (scope.tenantId !== undefined) where.push(`k.tenant_id = $${params.push(scope.tenantId)}`);
  if (scope.providerId !== undefined) where.push(`k.provider_id = $${params.push(scope.providerId)}`);
}

@Injectable()
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(key: NewApiKey, manager: EntityManager = this.dataSource.manager): Promise<ApiKeyRow> {
    const [row]: ApiKeyRow[] = await manager.query(
      `INSERT INTO api_keys AS k (key_hash, key_prefix, role, name, tenant_id, provider_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [
        key.keyHash,
        key.keyPrefix,
        key.role,
        key.name,
        key.tenantId ?? null,
        key.providerId ?? null,
        key.expiresAt ?? null,
      ],
    );
    return row;
  }

  /** The key with this hash if it is neither revoked nor expired. */
  async findUsableByHash(keyHash: string): Promise<UsableKey | null> {
    const rows: Array<Pick<ApiKeyRow, 'id' | 'role' | 'tenantId' | 'providerId' | 'expiresAt'>> =
      await this.dataSource.query(
        `SELECT k.id, k.role, k.tenant_id AS "tenantId", k.provider_id AS "providerId", k.expires_at AS "expiresAt"
         FROM api_keys k WHERE k.key_hash = $1 AND ${USABLE}`,
        [keyHash],
      );
    const row = rows[0];
    return row
      ? {
          principal: { keyId: row.id, role: row.role, tenantId: row.tenantId, providerId: row.providerId },
          expiresAt: row.expiresAt,
        }
      : null;
  }

  /** Any key with this hash, usable or not. */
  async findByHash(keyHash: string, manager: EntityManager = this.dataSource.manager): Promise<ApiKeyRow | null> {
    const rows: ApiKeyRow[] = await manager.query(`SELECT ${COLUMNS} FROM api_keys k WHERE k.key_hash = $1`, [keyHash]);
    return rows[0] ?? null;
  }

  async countActiveAdmins(manager: EntityManager = this.dataSource.manager): Promise<number> {
    const [row]: Array<{ n: number }> = await manager.query(
      `SELECT count(*)::int AS n FROM api_keys k WHERE k.role = 'admin' AND ${USABLE}`,
    );
    return row.n;
  }

  /** Revokes the admin keys with this name except the one with `keepHash`; returns the ids revoked. */
  async revokeNamedExcept(
    name: string,
    keepHash: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<string[]> {
    const rows = await updateReturning<{ id: string }>(
      manager,
      `UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND role = 'admin' AND key_hash <> $2 AND revoked_at IS NULL RETURNING id`,
      [name, keepHash],
    );
    return rows.map((r) => r.id);
  }

  async ownerExists(
    kind: 'tenant' | 'provider',
    id: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<boolean> {
    const table = kind === 'tenant' ? 'tenants' : 'providers';
    const rows: unknown[] = await manager.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  /** Locks the owner's row, so that concurrent requests for new keys count each other. */
  async countUsableOfOwnerForUpdate(manager: EntityManager, kind: 'tenant' | 'provider', id: string): Promise<number> {
    await manager.query(`SELECT 1 FROM ${kind === 'tenant' ? 'tenants' : 'providers'} WHERE id = $1 FOR UPDATE`, [id]);
    const [row]: Array<{ n: number }> = await manager.query(
      `SELECT count(*)::int AS n FROM api_keys k WHERE k.${kind === 'tenant' ? 'tenant_id' : 'provider_id'} = $1 AND ${USABLE}`,
      [id],
    );
    return row.n;
  }

  async find(manager: EntityManager, id: string, scope: KeyScope, lock = false): Promise<ApiKeyRow | null> {
    const params: unknown[] = [id];
    const where = ['k.id = $1'];
    scoped(where, params, scope);
    const rows: ApiKeyRow[] = await manager.query(
      `SELECT ${COLUMNS} FROM api_keys k WHERE ${where.join(' AND ')}${lock ? ' FOR UPDATE' : ''}`,
      params,
    );
    return rows[0] ?? null;
  }

  /** Newest first, keyset-paged by (created_at, id). */
  async page(
    manager: EntityManager,
    scope: KeyScope,
    filter: KeyFilter,
    limit: number,
    after?: { time: string; id: string },
  ): Promise<ApiKeyRow[]> {
    const params: unknown[] = [];
    const where = ['true'];
    // Both apply: a tenant asking for another tenant's keys finds none, as if it had none.
    scoped(where, params, scope);
    scoped(where, params, filter);
    if (filter.role !== undefined) where.push(`k.role = $${params.push(filter.role)}`);
    if (filter.status === 'active') where.push(USABLE);
    if (filter.status === 'revoked') where.push('k.revoked_at IS NOT NULL');
    if (filter.status === 'expired') where.push('k.revoked_at IS NULL AND k.expires_at <= now()');
    if (after)
      where.push(`(k.created_at, k.id) < ($${params.push(after.time)}::timestamptz, $${params.push(after.id)}::uuid)`);
    return manager.query(
      `SELECT ${COLUMNS} FROM api_keys k WHERE ${where.join(' AND ')} ORDER BY k.created_at DESC, k.id DESC LIMIT $${params.push(limit)}`,
      params,
    );
  }

  /** Revokes the key now; a key already revoked keeps its first revocation time. */
  async revoke(manager: EntityManager, id: string): Promise<ApiKeyRow> {
    const [row] = await updateReturning<ApiKeyRow>(
      manager,
      `UPDATE api_keys k SET revoked_at = COALESCE(k.revoked_at, now()) WHERE k.id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return row;
  }

  /**
   * Marks a rotated key as replaced. With no grace it is revoked now; with a grace it keeps
   * working until now + grace (its expiry is brought forward, never pushed back).
   */
  async markReplaced(manager: EntityManager, id: string, replacedBy: string, graceSeconds: number): Promise<ApiKeyRow> {
    const [row] = await updateReturning<ApiKeyRow>(
      manager,
      `UPDATE api_keys k SET replaced_by = $2,
              revoked_at = CASE WHEN $3::int = 0 THEN now() ELSE k.revoked_at END,
              expires_at = CASE WHEN $3::int = 0 THEN k.expires_at
                                ELSE LEAST(COALESCE(k.expires_at, 'infinity'::timestamptz), now() + make_interval(secs => $3::int)) END
        WHERE k.id = $1 RETURNING ${COLUMNS}`,
      [id, replacedBy, graceSeconds],
    );
    return row;
  }

  /**
   * Records a use of the key, unless one within the last `minAgeSeconds` was recorded already
   * (by this or another replica): then the row is not written at all.
   */
  async touchLastUsed(id: string, minAgeSeconds: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= now() - make_interval(secs => $2::int))`,
      [id, minAgeSeconds],
    );
  }
}
