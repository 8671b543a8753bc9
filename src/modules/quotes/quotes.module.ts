import { Module } from '@nestjs/common';
import { BidsModule } from '../bids/bids.module.js';
import { MarketApiModule } from '../market/market-api.module.js';
import { QuotesController } from './quotes.controller.js';
import { QuotesService } from './quotes.service.js';

@Module({
  imports: [BidsModule, MarketApiModule],
  controllers: [QuotesController],
  providers: [QuotesService],
})
export class QuotesModule {}
