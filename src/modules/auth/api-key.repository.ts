import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity.js';
import type { Principal, Role } from './principal.js';

export interface NewApiKey {
  readonly keyHash: string;
  readonly keyPrefix: string;
  readonly role: Role;
  readonly name: string;
  readonly tenantId?: string | null;
  readonly providerId?: string | null;
}

@Injectable()
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(key: NewApiKey, manager: EntityManager = this.dataSource.manager): Promise<ApiKeyEntity> {
    const repo = manager.getRepository(ApiKeyEntity);
    return repo.save(repo.create({ ...key, tenantId: key.tenantId ?? null, providerId: key.providerId ?? null }));
  }

  async findActiveByHash(keyHash: string): Promise<Principal | null> {
    const row = await this.dataSource.manager
      .getRepository(ApiKeyEntity)
      .findOne({ where: { keyHash, revokedAt: IsNull() }, select: { id: true, role: true, tenantId: true, providerId: true } });
    return row ? { keyId: row.id, role: row.role, tenantId: row.tenantId, providerId: row.providerId } : null;
  }

  async countActiveAdmins(manager: EntityManager = this.dataSource.manager): Promise<number> {
    return manager.getRepository(ApiKeyEntity).count({ where: { role: 'admin', revokedAt: IsNull() } });
  }

  /** Revokes the keys with this name except the one with `keepHash`. */
  async revokeNamedExcept(name: string, keepHash: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.query('UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND key_hash <> $2 AND revoked_at IS NULL', [name, keepHash]);
  }

  async ownerExists(kind: 'tenant' | 'provider', id: string, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    const table = kind === 'tenant' ? 'tenants' : 'providers';
    const rows: unknown[] = await manager.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
    return rows.length > 0;
  }

  async existsActive(keyHash: string, manager: EntityManager = this.dataSource.manager): Promise<boolean> {
    return manager.getRepository(ApiKeyEntity).exists({ where: { keyHash, revokedAt: IsNull() } });
  }
}
