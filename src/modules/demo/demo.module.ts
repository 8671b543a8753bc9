import { Module } from '@nestjs/common';
import { BidsModule } from '../bids/bids.module.js';
import { InventoryModule } from '../inventory/inventory.module.js';
import { ProvidersModule } from '../providers/providers.module.js';
import { TenantsModule } from '../tenants/tenants.module.js';
import { DemoRepository } from './demo.repository.js';
import { DemoService } from './demo.service.js';

@Module({
  imports: [ProvidersModule, InventoryModule, TenantsModule, BidsModule],
  providers: [DemoRepository, DemoService],
})
export class DemoModule {}
