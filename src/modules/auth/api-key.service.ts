import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';
import { ApiKeyEventsRepository } from './api-key-events.repository.js';
import { type ApiKeyRow, ApiKeyRepository, type UsableKey } from './api-key.repository.js';
import { LAST_USED_INTERVAL_MS, LastUsedThrottle } from './last-used-throttle.js';
import type { Principal, Role } from './principal.js';

/** The name of the key that ADMIN_API_KEY sets; reserved, so no key made through the API has it. */
export const ENV_ADMIN_KEY_NAME = 'ADMIN_API_KEY';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface IssuedKey {
  readonly id: string;
  /** The secret; shown once, only its hash is stored. */
  readonly apiKey: string;
  readonly row: ApiKeyRow;
}

export interface KeyToIssue {
  readonly role: Role;
  readonly name: string;
  readonly tenantId?: string | null;
  readonly providerId?: string | null;
  readonly expiresAt?: Date | null;
}

/** The first characters of a key: enough to tell keys apart, far too few to guess the rest. */
export const KEY_PREFIX_LENGTH = 10;

/**
 * Issues and resolves API keys. Resolution is cached in memory for API_KEY_CACHE_SECONDS so
 * that a request costs no extra database round trip. A key revoked or rotated through this
 * replica is dropped from its cache at once; another replica stops accepting it within
 * API_KEY_CACHE_SECONDS. An expiry is checked on every request, cached or not.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger('ApiKeys');
  private readonly cache = new Map<string, { key: UsableKey | null; expires: number }>();
  private readonly lastUsed = new LastUsedThrottle(LAST_USED_INTERVAL_MS);

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly events: ApiKeyEventsRepository,
    private readonly transactions: TransactionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Mints a key and records its creation. `actor` is the caller's key, null when the service
   * itself issues it (the first admin key, a new tenant's or provider's first key).
   */
  async issue(
    input: KeyToIssue,
    manager?: EntityManager,
    actor: Principal | null = null,
    relatedKeyId: string | null = null,
  ): Promise<IssuedKey> {
    const apiKey = `gm_${randomBytes(32).toString('base64url')}`;
    const work = async (m: EntityManager) => {
      const row = await this.keys.insert(
        { ...input, keyHash: hashApiKey(apiKey), keyPrefix: apiKey.slice(0, KEY_PREFIX_LENGTH) },
        m,
      );
      await this.events.add(m, [
        { keyId: row.id, action: 'created', actor, relatedKeyId, details: creationDetails(row) },
      ]);
      return row;
    };
    const row = manager ? await work(manager) : await this.transactions.run(work);
    return { id: row.id, apiKey, row };
  }

  async resolve(apiKey: string): Promise<Principal | null> {
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    const hit = this.cache.get(hash);
    let key: UsableKey | null;
    if (hit && hit.expires > now) {
      key = hit.key;
    } else {
      key = await this.keys.findUsableByHash(hash);
      if (this.config.apiKeyCacheSeconds > 0) {
        // Bounded so a flood of random keys cannot grow memory without limit.
        if (this.cache.size >= 10_000) this.cache.clear();
        this.cache.set(hash, { key, expires: now + this.config.apiKeyCacheSeconds * 1000 });
      }
    }
    // The expiry is known, so a cached key stops at its expiry, not up to a cache time later.
    if (!key || (key.expiresAt !== null && key.expiresAt.getTime() <= now)) return null;
    await this.noteUse(key.principal.keyId, now);
    return key.principal;
  }

  /** Drops a key from this replica's cache, so that its revocation or new expiry applies at once. */
  forget(keyHash: string): void {
    this.cache.delete(keyHash);
  }

  /** Writes last_used_at at most once a minute per key; a failed write never fails the request. */
  private async noteUse(keyId: string, now: number): Promise<void> {
    if (!this.lastUsed.claim(keyId, now)) return;
    try {
      await this.keys.touchLastUsed(keyId, LAST_USED_INTERVAL_MS / 1000);
    } catch (error) {
      this.lastUsed.release(keyId);
      this.logger.warn(
        `could not record the use of API key ${keyId}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  /**
   * Makes sure an admin can get in. With ADMIN_API_KEY set, that key is the admin key (a changed
   * value replaces the old one). Without it, the first start generates a key and returns it to be
   * printed once; later starts return null because an admin key already exists.
   */
  async bootstrapAdmin(): Promise<string | null> {
    return this.transactions.run(async (manager) => {
      // Two replicas starting together must not both mint a key.
      await advisoryXactLock(manager, 'gpumarket:bootstrap-admin');
      const fromEnv = this.config.adminApiKey;
      if (fromEnv !== null) {
        const hash = hashApiKey(fromEnv);
        const existing = await this.keys.findByHash(hash, manager);
        if (existing && (existing.revokedAt !== null || existing.role !== 'admin')) {
          // A value used before and replaced (or revoked) must not come back to life.
          throw new Error('ADMIN_API_KEY is a key that has been revoked or replaced before; set a new value');
        }
        if (!existing) {
          const row = await this.keys.insert(
            { keyHash: hash, keyPrefix: fromEnv.slice(0, KEY_PREFIX_LENGTH), role: 'admin', name: ENV_ADMIN_KEY_NAME },
            manager,
          );
          await this.events.add(manager, [
            {
              keyId: row.id,
              action: 'created',
              actor: null,
              details: { ...creationDetails(row), source: ENV_ADMIN_KEY_NAME },
            },
          ]);
        }
        const revoked = await this.keys.revokeNamedExcept(ENV_ADMIN_KEY_NAME, hash, manager);
        await this.events.add(
          manager,
          revoked.map((keyId) => ({
            keyId,
            action: 'revoked' as const,
            actor: null,
            details: { reason: `${ENV_ADMIN_KEY_NAME} changed` },
          })),
        );
        return null;
      }
      if ((await this.keys.countActiveAdmins(manager)) > 0) return null;
      const issued = await this.issue({ role: 'admin', name: 'generated at first start' }, manager);
      this.logger.log('generated the first admin API key');
      return issued.apiKey;
    });
  }
}

/** What a creation's audit row says about the key (never its secret or hash). */
function creationDetails(row: ApiKeyRow): Record<string, unknown> {
  return {
    name: row.name,
    role: row.role,
    tenantId: row.tenantId,
    providerId: row.providerId,
    expiresAt: row.expiresAt?.toISOString() ?? null,
  };
}
