import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';
import { ApiKeyRepository } from './api-key.repository.js';
import type { Principal, Role } from './principal.js';
import { type FieldProblem, ValidationFailedError } from '../../platform/errors/app-error.js';

const ENV_ADMIN_KEY_NAME = 'ADMIN_API_KEY';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface IssuedKey {
  readonly id: string;
  /** The secret; shown once, only its hash is stored. */
  readonly apiKey: string;
}

/**
 * Issues and resolves API keys. Resolution is cached in memory for API_KEY_CACHE_SECONDS so
 * that a request costs no extra database round trip; a revoked key stops working within that time.
 */
@Injectable()
export class ApiKeyService {
  private readonly logger = new Logger('ApiKeys');
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly transactions: TransactionRunner,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async issue(
    input: { role: Role; name: string; tenantId?: string; providerId?: string },
    manager?: EntityManager,
  ): Promise<IssuedKey> {
    const apiKey = `gm_${randomBytes(32).toString('base64url')}`;
    const row = await this.keys.insert(
      { ...input, keyHash: hashApiKey(apiKey), keyPrefix: apiKey.slice(0, 10) },
      manager,
    );
    return { id: row.id, apiKey };
  }

  /** An admin's request for a further key; a tenant or provider key must name an existing owner. */
  async create(input: { role: Role; name: string; tenantId?: string; providerId?: string }) {
    const problems: FieldProblem[] = [];
    for (const kind of ['tenant', 'provider'] as const) {
      const field = kind === 'tenant' ? 'tenantId' : 'providerId';
      const id = input[field];
      if (input.role === kind && id === undefined) problems.push({ field, rule: 'required', message: `${field} is required for a ${kind} key` });
      if (input.role !== kind && id !== undefined) problems.push({ field, rule: 'not_allowed', message: `${field} is only for ${kind} keys` });
      if (input.role === kind && id !== undefined && !(await this.keys.ownerExists(kind, id))) {
        problems.push({ field, rule: 'exists', message: `no ${kind} ${id}` });
      }
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const issued = await this.issue(input);
    return { id: issued.id, role: input.role, name: input.name, apiKey: issued.apiKey };
  }

  async resolve(apiKey: string): Promise<Principal | null> {
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.expires > now) return hit.principal;
    const principal = await this.keys.findActiveByHash(hash);
    if (this.config.apiKeyCacheSeconds > 0) {
      // Bounded so a flood of random keys cannot grow memory without limit.
      if (this.cache.size >= 10_000) this.cache.clear();
      this.cache.set(hash, { principal, expires: now + this.config.apiKeyCacheSeconds * 1000 });
    }
    return principal;
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
        if (!(await this.keys.existsActive(hash, manager))) {
          await this.keys.insert({ keyHash: hash, keyPrefix: fromEnv.slice(0, 10), role: 'admin', name: ENV_ADMIN_KEY_NAME }, manager);
        }
        await this.keys.revokeNamedExcept(ENV_ADMIN_KEY_NAME, hash, manager);
        return null;
      }
      if ((await this.keys.countActiveAdmins(manager)) > 0) return null;
      const issued = await this.issue({ role: 'admin', name: 'generated at first start' }, manager);
      this.logger.log('generated the first admin API key');
      return issued.apiKey;
    });
  }
}
