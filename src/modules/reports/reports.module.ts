import { Module } from '@nestjs/common';
import { BidsModule } from '../bids/bids.module.js';
import { MarketApiModule } from '../market-api/market-api.module.js';
import { QuotesRepository } from '../quotes/quotes.repository.js';
import { QuotesService } from '../quotes/quotes.service.js';
import { ReportsController } from './reports.controller.js';
import { ReportsRepository } from './reports.repository.js';
import { ReportsService } from './reports.service.js';

/**
 * Finance reports over the market's rounds, prices and ledger (read only). The price to win per
 * pool is the quotes' own computation: QuotesModule does not export its service, so this module
 * provides the same stateless classes itself rather than repeat their pricing.
 */
@Module({
  imports: [MarketApiModule, BidsModule],
  controllers: [ReportsController],
  providers: [ReportsRepository, ReportsService, QuotesRepository, QuotesService],
})
export class ReportsModule {}
