import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { TenantEntity } from './tenant.entity.js';

@Injectable()
export class TenantsRepository {
  constructor(private readonly dataSource: DataSource) {}

  insert(name: string, manager: EntityManager = this.dataSource.manager): Promise<TenantEntity> {
    const repo = manager.getRepository(TenantEntity);
    return repo.save(repo.create({ name }));
  }

  list(): Promise<TenantEntity[]> {
    return this.dataSource.getRepository(TenantEntity).find({ order: { createdAt: 'ASC' } });
  }
}
