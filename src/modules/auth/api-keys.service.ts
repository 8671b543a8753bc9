import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { AuthError, AuthErrorCode, type FieldProblem, ValidationFailedError } from '../../platform/errors/app-error.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../platform/http/keyset-cursor.js';
import type {
  ApiKeyAuditQueryDto,
  ApiKeyCreatedDto,
  ApiKeyDto,
  ApiKeyEventPageDto,
  ApiKeyPageDto,
  ApiKeyRotatedDto,
  CreateApiKeyDto,
  ListApiKeysQueryDto,
  RotateApiKeyQueryDto,
} from './api-key.dto.js';
import { ApiKeyError, ApiKeyErrorCode } from './api-key.error.js';
import { ApiKeyEventsRepository } from './api-key-events.repository.js';
import { type ApiKeyRow, ApiKeyRepository, type KeyScope } from './api-key.repository.js';
import { ApiKeyService, ENV_ADMIN_KEY_NAME } from './api-key.service.js';
import type { Principal, Role } from './principal.js';

/** Usable keys one tenant or provider may hold at once; each is a credential to look after. */
export const MAX_KEYS_PER_OWNER = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function statusOf(row: ApiKeyRow, now: number): ApiKeyDto['status'] {
  if (row.revokedAt !== null) return 'revoked';
  if (row.expiresAt !== null && row.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

export function toApiKeyDto(row: ApiKeyRow, now = Date.now()): ApiKeyDto {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    tenantId: row.tenantId,
    providerId: row.providerId,
    prefix: row.keyPrefix,
    status: statusOf(row, now),
    expiresAt: iso(row.expiresAt),
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
    replacedBy: row.replacedBy,
  };
}

/** Admin manages every key; a tenant or provider only its own (others' are not found). */
function scopeOf(principal: Principal): KeyScope {
  if (principal.role === 'tenant') return { tenantId: principal.tenantId! };
  if (principal.role === 'provider') return { providerId: principal.providerId! };
  return {};
}

/** The key ADMIN_API_KEY sets: it changes only with the variable. */
function isFromConfig(row: ApiKeyRow): boolean {
  return row.role === 'admin' && row.name === ENV_ADMIN_KEY_NAME;
}

interface KeyRequest {
  role: Role;
  name: string;
  tenantId: string | null;
  providerId: string | null;
  expiresAt: Date | null;
}

/** The key API: list, read, create, revoke and rotate keys, and read their audit trail. */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly events: ApiKeyEventsRepository,
    private readonly apiKeys: ApiKeyService,
    private readonly transactions: TransactionRunner,
  ) {}

  async list(principal: Principal, query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeKeysetCursor(query.cursor);
    const filter = { role: query.role, status: query.status, tenantId: query.tenantId, providerId: query.providerId };
    const rows = await this.transactions.run((m) => this.keys.page(m, scopeOf(principal), filter, limit + 1, after));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const now = Date.now();
    return {
      apiKeys: page.map((r) => toApiKeyDto(r, now)),
      nextCursor: rows.length > limit ? encodeKeysetCursor(last.cursorTime, last.id) : null,
    };
  }

  async get(principal: Principal, id: string): Promise<ApiKeyDto> {
    return toApiKeyDto(await this.transactions.run((m) => this.key(m, principal, id)));
  }

  async create(principal: Principal, body: CreateApiKeyDto): Promise<ApiKeyCreatedDto> {
    const request = await this.checkCreate(principal, body);
    const issued = await this.transactions.run(async (manager) => {
      const owner =
        request.tenantId !== null
          ? (['tenant', request.tenantId] as const)
          : request.providerId !== null
            ? (['provider', request.providerId] as const)
            : null;
      if (owner && (await this.keys.countUsableOfOwnerForUpdate(manager, owner[0], owner[1])) >= MAX_KEYS_PER_OWNER) {
        throw new ApiKeyError(
          ApiKeyErrorCode.LimitReached,
          `a ${owner[0]} holds at most ${MAX_KEYS_PER_OWNER} usable keys; revoke one first`,
        );
      }
      return this.apiKeys.issue(request, manager, principal);
    });
    return { ...toApiKeyDto(issued.row), apiKey: issued.apiKey };
  }

  /** Revokes the key now. Revoking a revoked key changes nothing and answers the same. */
  async revoke(principal: Principal, id: string): Promise<void> {
    const row = await this.transactions.run(async (manager) => {
      const key = await this.key(manager, principal, id, true);
      if (key.revokedAt !== null) return key;
      this.refuseConfigKey(key, 'revoke');
      if (key.role === 'admin' && statusOf(key, Date.now()) === 'active') {
        // Two admins revoking the last two admin keys at once must not both succeed.
        await advisoryXactLock(manager, 'gpumarket:admin-keys');
        if ((await this.keys.countActiveAdmins(manager)) <= 1) {
          throw new ApiKeyError(
            ApiKeyErrorCode.LastAdminKey,
            'this is the last usable admin key; create another admin key first',
          );
        }
      }
      const revoked = await this.keys.revoke(manager, key.id);
      await this.events.add(manager, [{ keyId: key.id, action: 'revoked', actor: principal }]);
      return revoked;
    });
    this.apiKeys.forget(row.keyHash);
  }

  /**
   * A new key (new secret, new id) with the old one's name, role, owner and expiry; the old key
   * is revoked at once, or with graceSeconds keeps working until the grace ends.
   */
  async rotate(principal: Principal, id: string, query: RotateApiKeyQueryDto): Promise<ApiKeyRotatedDto> {
    const grace = query.graceSeconds ?? 0;
    const { issued, old } = await this.transactions.run(async (manager) => {
      const key = await this.key(manager, principal, id, true);
      this.refuseConfigKey(key, 'rotate');
      if (key.revokedAt !== null)
        throw new ApiKeyError(ApiKeyErrorCode.Revoked, `API key ${key.id} is revoked; create a new key instead`);
      if (key.replacedBy !== null)
        throw new ApiKeyError(
          ApiKeyErrorCode.AlreadyRotated,
          `API key ${key.id} was already replaced by ${key.replacedBy}; rotate that one`,
        );
      if (statusOf(key, Date.now()) === 'expired')
        throw new ApiKeyError(ApiKeyErrorCode.Expired, `API key ${key.id} has expired; create a new key instead`);
      const issued = await this.apiKeys.issue(
        {
          role: key.role,
          name: key.name,
          tenantId: key.tenantId,
          providerId: key.providerId,
          expiresAt: key.expiresAt,
        },
        manager,
        principal,
        key.id,
      );
      const old = await this.keys.markReplaced(manager, key.id, issued.id, grace);
      const stopsAt = old.revokedAt ?? old.expiresAt!;
      await this.events.add(manager, [
        {
          keyId: key.id,
          action: 'rotated',
          actor: principal,
          relatedKeyId: issued.id,
          details: { graceSeconds: grace, previousKeyStopsAt: stopsAt.toISOString() },
        },
      ]);
      return { issued, old: { ...old, stopsAt } };
    });
    this.apiKeys.forget(old.keyHash);
    return {
      ...toApiKeyDto(issued.row),
      apiKey: issued.apiKey,
      replaces: old.id,
      previousKeyStopsAt: old.stopsAt.toISOString(),
    };
  }

  async audit(query: ApiKeyAuditQueryDto): Promise<ApiKeyEventPageDto> {
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : decodeKeysetCursor(query.cursor);
    const filter = { keyId: query.keyId, tenantId: query.tenantId, providerId: query.providerId, action: query.action };
    const rows = await this.transactions.run((m) => this.events.page(m, filter, limit + 1, after));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      events: page.map(({ cursorTime: _, createdAt, ...event }) => ({ ...event, createdAt: createdAt.toISOString() })),
      nextCursor: rows.length > limit ? encodeKeysetCursor(last.cursorTime, last.id) : null,
    };
  }

  /** Field checks that need the caller or the database; a tenant or provider asks for its own keys only. */
  private async checkCreate(principal: Principal, body: CreateApiKeyDto): Promise<KeyRequest> {
    const problems: FieldProblem[] = [];
    if (body.name === ENV_ADMIN_KEY_NAME)
      problems.push({
        field: 'name',
        rule: 'reserved',
        message: `${ENV_ADMIN_KEY_NAME} is the name of the key that variable sets`,
      });
    const expiresAt = body.expiresAt === undefined ? null : new Date(body.expiresAt);
    if (expiresAt !== null && expiresAt.getTime() <= Date.now())
      problems.push({ field: 'expiresAt', rule: 'in_past', message: 'expiresAt must be in the future' });
    let role: Role;
    if (principal.role === 'admin') {
      if (body.role === undefined) problems.push({ field: 'role', rule: 'required', message: 'role is required' });
      role = body.role ?? 'admin';
      for (const kind of ['tenant', 'provider'] as const) {
        const field = kind === 'tenant' ? 'tenantId' : 'providerId';
        const id = body[field];
        if (role === kind && id === undefined)
          problems.push({ field, rule: 'required', message: `${field} is required for a ${kind} key` });
        if (role !== kind && id !== undefined)
          problems.push({ field, rule: 'not_allowed', message: `${field} is only for ${kind} keys` });
        if (role === kind && id !== undefined && !(await this.keys.ownerExists(kind, id)))
          problems.push({ field, rule: 'exists', message: `no ${kind} ${id}` });
      }
    } else {
      role = principal.role;
      if (body.role !== undefined && body.role !== role) {
        throw new AuthError(AuthErrorCode.WrongRole, `a ${role} key issues only ${role} keys, for its own ${role}`);
      }
      const own = { tenantId: principal.tenantId, providerId: principal.providerId };
      for (const field of ['tenantId', 'providerId'] as const) {
        const id = body[field];
        if (id === undefined) continue;
        const kind = field === 'tenantId' ? 'tenant' : 'provider';
        // Another owner's id reads exactly like an unknown one.
        if (kind !== role) problems.push({ field, rule: 'not_allowed', message: `${field} is only for ${kind} keys` });
        else if (id !== own[field]) problems.push({ field, rule: 'exists', message: `no ${kind} ${id}` });
      }
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const owned =
      principal.role === 'admin'
        ? body
        : { tenantId: principal.tenantId ?? undefined, providerId: principal.providerId ?? undefined };
    return { role, name: body.name, tenantId: owned.tenantId ?? null, providerId: owned.providerId ?? null, expiresAt };
  }

  private refuseConfigKey(key: ApiKeyRow, what: 'revoke' | 'rotate'): void {
    if (isFromConfig(key)) {
      throw new ApiKeyError(
        ApiKeyErrorCode.FromConfig,
        `this key is set by ${ENV_ADMIN_KEY_NAME}; to ${what} it, change the variable and restart`,
      );
    }
  }

  private async key(manager: EntityManager, principal: Principal, id: string, lock = false): Promise<ApiKeyRow> {
    const row = UUID.test(id) ? await this.keys.find(manager, id, scopeOf(principal), lock) : null;
    if (!row) throw new ApiKeyError(ApiKeyErrorCode.NotFound, `no API key ${id}`);
    return row;
  }
}
