import { Module } from '@nestjs/common';
import { OutboxModule } from '../../platform/outbox/outbox.module.js';
import { LedgerModule } from '../ledger/ledger.module.js';
import { OrdersModule } from '../orders/orders.module.js';
import { WebhookFanoutRepository } from '../webhooks/webhook-fanout.repository.js';
import { LeaseStateRepository } from './lease-state.repository.js';
import { LeaseStateService } from './lease-state.service.js';
import { MarketEventsRepository } from './market-events.repository.js';

/**
 * A lease's life after the round that made it: starts, ends, failures, notices and their stops,
 * each settled in the ledger with its orders and events (src/core/market/lease-lifecycle.ts).
 */
@Module({
  imports: [OutboxModule, LedgerModule, OrdersModule],
  providers: [WebhookFanoutRepository, MarketEventsRepository, LeaseStateRepository, LeaseStateService],
  exports: [LeaseStateService, MarketEventsRepository],
})
export class LeasesModule {}
