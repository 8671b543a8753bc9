import { Module } from '@nestjs/common';
import { InventoryModule } from '../inventory/inventory.module.js';
import { MarketModule } from '../market/market.module.js';
import { BidsController } from './bids.controller.js';
import { BidsRepository } from './bids.repository.js';
import { BidsService } from './bids.service.js';

@Module({
  imports: [InventoryModule, MarketModule],
  controllers: [BidsController],
  providers: [BidsRepository, BidsService],
  exports: [BidsRepository, BidsService],
})
export class BidsModule {}
