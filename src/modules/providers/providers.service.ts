import { Injectable } from '@nestjs/common';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { ApiKeyService } from '../auth/api-key.service.js';
import type { AdapterKind } from '../dispatch/adapters/provider-adapter.js';
import type { ProviderCreatedDto, ProviderDto } from './provider.dto.js';
import { ProvidersRepository } from './providers.repository.js';

@Injectable()
export class ProvidersService {
  constructor(
    private readonly providers: ProvidersRepository,
    private readonly apiKeys: ApiKeyService,
    private readonly transactions: TransactionRunner,
  ) {}

  /** A provider and its first API key, together or not at all. */
  create(name: string, adapter: AdapterKind): Promise<ProviderCreatedDto> {
    return this.transactions.run(async (manager) => {
      const provider = await this.providers.insert(name, adapter, manager);
      const key = await this.apiKeys.issue(
        { role: 'provider', name: `${name} (first key)`, providerId: provider.id },
        manager,
      );
      return { id: provider.id, name: provider.name, adapter: provider.adapter, apiKey: key.apiKey };
    });
  }

  async list(): Promise<ProviderDto[]> {
    return (await this.providers.list()).map((p) => ({
      id: p.id,
      name: p.name,
      adapter: p.adapter,
      createdAt: p.createdAt.toISOString(),
    }));
  }
}
