import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { ClearingRunner } from './clearing-runner.service.js';
import { LeaseStateRepository } from './lease-state.repository.js';
import { LeaseStateService } from './lease-state.service.js';
import { LedgerRepository } from './ledger.repository.js';
import { MarketEventsRepository } from './market-events.repository.js';
import { MarketSnapshotRepository } from './market-snapshot.repository.js';
import { OrdersRepository } from './orders.repository.js';
import { OutboxModule } from '../../platform/outbox/outbox.module.js';
import { RoundCommitRepository } from './round-commit.repository.js';
import { RoundCommitService } from './round-commit.service.js';
import { RoundScheduler } from './round.scheduler.js';
import { RoundService } from './round.service.js';
import { RoundsRepository } from './rounds.repository.js';
import { WebhookFanoutRepository } from '../webhooks/webhook-fanout.repository.js';

@Module({
  imports: [OutboxModule],
  providers: [
    RoundsRepository,
    MarketSnapshotRepository,
    LedgerRepository,
    OrdersRepository,
    MarketEventsRepository,
    WebhookFanoutRepository,
    LeaseStateRepository,
    LeaseStateService,
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
  exports: [OutboxModule, RoundService, LeaseStateService, OrdersRepository, MarketEventsRepository, LedgerRepository],
})
export class MarketModule {}
