import { ApiKeyEntity } from './modules/auth/api-key.entity.js';
import { BidEntity, BidOfferEntity } from './modules/bids/bid.entity.js';
import { GpuModelEntity } from './modules/inventory/gpu-model.entity.js';
import { NodeEntity } from './modules/inventory/node.entity.js';
import { ProviderEntity } from './modules/providers/provider.entity.js';
import { TenantEntity } from './modules/tenants/tenant.entity.js';

/** Every TypeORM entity of the service; a feature that adds a table adds its entity here. */
export const ENTITIES = [
  ApiKeyEntity,
  TenantEntity,
  ProviderEntity,
  GpuModelEntity,
  NodeEntity,
  BidEntity,
  BidOfferEntity,
];
