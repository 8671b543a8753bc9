import { Injectable } from '@nestjs/common';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { ApiKeyService } from '../auth/api-key.service.js';
import type { TenantCreatedDto, TenantDto } from './tenant.dto.js';
import { TenantsRepository } from './tenants.repository.js';

@Injectable()
export class TenantsService {
  constructor(
    private readonly tenants: TenantsRepository,
    private readonly apiKeys: ApiKeyService,
    private readonly transactions: TransactionRunner,
  ) {}

  /** A tenant and its first API key, together or not at all. */
  create(name: string): Promise<TenantCreatedDto> {
    return this.transactions.run(async (manager) => {
      const tenant = await this.tenants.insert(name, manager);
      const key = await this.apiKeys.issue(
        { role: 'tenant', name: `${name} (first key)`, tenantId: tenant.id },
        manager,
      );
      return { id: tenant.id, name: tenant.name, apiKey: key.apiKey };
    });
  }

  async list(): Promise<TenantDto[]> {
    return (await this.tenants.list()).map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() }));
  }
}
