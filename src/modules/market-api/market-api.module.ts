import { Module } from '@nestjs/common';
import { AgentGatewayModule } from '../agent-gateway/agent-gateway.module.js';
import { DispatchModule } from '../dispatch/dispatch.module.js';
import { LeasesController } from './leases.controller.js';
import { LedgerController } from './ledger.controller.js';
import { MarketPricesController } from './market-prices.controller.js';
import { MarketReadRepository } from './market-read.repository.js';
import { MarketReadService } from './market-read.service.js';
import { MissedSlotsRepository } from './missed-slots.repository.js';
import { MissedSlotsService } from './missed-slots.service.js';
import { RoundsController } from './rounds.controller.js';

/**
 * The market's HTTP read side. A module of its own because provider status reports go through
 * LeaseSyncService, and DispatchModule already imports MarketModule.
 */
@Module({
  imports: [DispatchModule, AgentGatewayModule],
  controllers: [RoundsController, MarketPricesController, LeasesController, LedgerController],
  providers: [MarketReadRepository, MarketReadService, MissedSlotsRepository, MissedSlotsService],
  exports: [MarketReadRepository, MarketReadService],
})
export class MarketApiModule {}
