import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { ClearingRunner } from './clearing-runner.service.js';
import { LeasesModule } from '../leases/leases.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { MarketSnapshotRepository } from './market-snapshot.repository.js';
import { OutboxModule } from '../../platform/outbox/outbox.module.js';
import { RoundCommitRepository } from './round-commit.repository.js';
import { RoundCommitService } from './round-commit.service.js';
import { RoundScheduler } from './round.scheduler.js';
import { RoundService } from './round.service.js';
import { RoundsRepository } from './rounds.repository.js';

@Module({
  imports: [OutboxModule, OrdersModule, LedgerModule, LeasesModule],
  providers: [
    RoundsRepository,
    MarketSnapshotRepository,
    RoundCommitRepository,
    RoundCommitService,
    {
      provide: ClearingRunner,
      useFactory: (config: AppConfig) => new ClearingRunner({ solverThreads: config.clearingSolverThreads }),
      inject: [APP_CONFIG],
    },
    RoundService,
    RoundScheduler,
  ],
  // Features after the market get the lease, order and ledger modules through it.
  exports: [OutboxModule, OrdersModule, LedgerModule, LeasesModule, RoundService],
})
export class MarketModule {}
