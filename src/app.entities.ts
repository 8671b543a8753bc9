import { ApiKeyEntity } from './modules/auth/api-key.entity.js';
import { GpuModelEntity } from './modules/inventory/gpu-model.entity.js';
import { ProviderEntity } from './modules/providers/provider.entity.js';
import { TenantEntity } from './modules/tenants/tenant.entity.js';

/**
 * The TypeORM entities the service reads and writes through repositories. Tables that features
 * query in SQL (bids, nodes, leases, ...) have no entity: their repositories map rows themselves.
 */
export const ENTITIES = [ApiKeyEntity, TenantEntity, ProviderEntity, GpuModelEntity];
