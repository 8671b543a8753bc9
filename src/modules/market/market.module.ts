import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { ClearingRunner } from './clearing-runner.service.js';
import { LeaseStateService } from './lease-state.service.js';
import { LedgerRepository } from './ledger.repository.js';
import { MarketEventsRepository } from './market-events.repository.js';
import { MarketSnapshotRepository } from './market-snapshot.repository.js';
import { OrdersRepository } from './orders.repository.js';
import { OutboxRelayService } from './outbox-relay.service.js';
import { OutboxRepository } from './outbox.repository.js';
import { RoundCommitService } from './round-commit.service.js';
import { RoundScheduler } from './round.scheduler.js';
import { RoundService } from './round.service.js';
import { RoundsRepository } from './rounds.repository.js';
import { WebhookFanoutRepository } from '../webhooks/webhook-fanout.repository.js';

@Module({
  providers: [
    RoundsRepository,
    MarketSnapshotRepository,
    LedgerRepository,
    OrdersRepository,
    OutboxRepository,
    MarketEventsRepository,
    WebhookFanoutRepository,
    LeaseStateService,
    RoundCommitService,
    { provide: ClearingRunner, useFactory: (config: AppConfig) => new ClearingRunner({ solverThreads: config.clearingSolverThreads }), inject: [APP_CONFIG] },
    RoundService,
    OutboxRelayService,
    RoundScheduler,
  ],
  exports: [RoundService, LeaseStateService, OrdersRepository, OutboxRepository, OutboxRelayService, MarketEventsRepository, LedgerRepository],
})
export class MarketModule {}
