import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Principal, Role } from './principal.js';

export type ApiKeyAction = 'created' | 'revoked' | 'rotated';
export const API_KEY_ACTIONS: readonly ApiKeyAction[] = ['created', 'revoked', 'rotated'];

export interface NewApiKeyEvent {
  readonly keyId: string;
  readonly action: ApiKeyAction;
  /** The caller's key; null when the service itself acted (start-up, a new tenant's first key). */
  readonly actor: Principal | null;
  readonly relatedKeyId?: string | null;
  readonly details?: Record<string, unknown>;
}

export interface ApiKeyEventRow {
  id: string;
  keyId: string;
  keyName: string;
  keyRole: Role;
  tenantId: string | null;
  providerId: string | null;
  action: ApiKeyAction;
  actorKeyId: string | null;
  actorRole: Role | null;
  actorName: string | null;
  relatedKeyId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
  cursorTime: string;
}

export interface ApiKeyEventFilter {
  readonly keyId?: string;
  readonly tenantId?: string;
  readonly providerId?: string;
  readonly action?: ApiKeyAction;
}

/** The audit trail of API keys: one row per change, never updated or deleted. */
@Injectable()
export class ApiKeyEventsRepository {
  async add(manager: EntityManager, events: readonly NewApiKeyEvent[]): Promise<void> {
    for (const event of events) {
      await manager.query(
        `INSERT INTO api_key_events (key_id, action, actor_key_id, actor_role, related_key_id, details) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
        [
          event.keyId,
          event.action,
          event.actor?.keyId ?? null,
          event.actor?.role ?? null,
          event.relatedKeyId ?? null,
          JSON.stringify(event.details ?? {}),
        ],
      );
    }
  }

  /** Newest first, keyset-paged by (created_at, id). */
  async page(
    manager: EntityManager,
    filter: ApiKeyEventFilter,
    limit: number,
    after?: { time: string; id: string },
  ): Promise<ApiKeyEventRow[]> {
    const params: unknown[] = [];
    const where = ['true'];
    if (filter.keyId !== undefined) where.push(`e.key_id = $${params.push(filter.keyId)}`);
    if (filter.tenantId !== undefined) where.push(`k.tenant_id = $${params.push(filter.tenantId)}`);
    if (filter.providerId !== undefined) where.push(`k.provider_id = $${params.push(filter.providerId)}`);
    if (filter.action !== undefined) where.push(`e.action = $${params.push(filter.action)}`);
    if (after)
      where.push(`(e.created_at, e.id) < ($${params.push(after.time)}::timestamptz, $${params.push(after.id)}::uuid)`);
    return manager.query(
      `SELECT e.id, e.key_id AS "keyId", k.name AS "keyName", k.role AS "keyRole", k.tenant_id AS "tenantId", k.provider_id AS "providerId",
              e.action, e.actor_key_id AS "actorKeyId", e.actor_role AS "actorRole", a.name AS "actorName",
              e.related_key_id AS "relatedKeyId", e.details, e.created_at AS "createdAt", e.created_at::text AS "cursorTime"
         FROM api_key_events e
         JOIN api_keys k ON k.id = e.key_id
         LEFT JOIN api_keys a ON a.id = e.actor_key_id
        WHERE ${where.join(' AND ')}
        ORDER BY e.created_at DESC, e.id DESC
        LIMIT $${params.push(limit)}`,
      params,
    );
  }
}
