import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdapterKind } from '../dispatch/adapters/provider-adapter.js';
import { ProviderEntity } from './provider.entity.js';

@Injectable()
export class ProvidersRepository {
  constructor(private readonly dataSource: DataSource) {}

  insert(
    name: string,
    adapter: AdapterKind,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<ProviderEntity> {
    const repo = manager.getRepository(ProviderEntity);
    return repo.save(repo.create({ name, adapter }));
  }

  list(): Promise<ProviderEntity[]> {
    return this.dataSource.getRepository(ProviderEntity).find({ order: { createdAt: 'ASC' } });
  }
}
