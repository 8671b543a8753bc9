import { Module } from '@nestjs/common';
import { MarketApiModule } from '../market/market-api.module.js';
import { ReportsController } from './reports.controller.js';
import { ReportsRepository } from './reports.repository.js';
import { ReportsService } from './reports.service.js';

/** Finance reports over the market's rounds, prices and ledger (read only). */
@Module({
  imports: [MarketApiModule],
  controllers: [ReportsController],
  providers: [ReportsRepository, ReportsService],
})
export class ReportsModule {}
