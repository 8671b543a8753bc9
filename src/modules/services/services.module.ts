import { Module } from '@nestjs/common';
import { BidsModule } from '../bids/bids.module.js';
import { DispatchModule } from '../dispatch/dispatch.module.js';
import { MarketModule } from '../market/market.module.js';
import { ServicesController } from './services.controller.js';
import { ServicesGateway } from './services-gateway.js';
import { ServicesRepository } from './services.repository.js';
import { ServicesRunner } from './services-runner.service.js';
import { ServicesService } from './services.service.js';

/** Elastic services: endpoints whose replicas are bids in the market, behind a holding gateway (docs/services.md). */
@Module({
  imports: [BidsModule, MarketModule, DispatchModule],
  controllers: [ServicesController],
  providers: [ServicesRepository, ServicesGateway, ServicesService, ServicesRunner],
})
export class ServicesModule {}
