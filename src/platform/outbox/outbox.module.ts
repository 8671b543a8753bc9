import { Module } from '@nestjs/common';
import { OutboxRelayService } from './outbox-relay.service.js';
import { OutboxRepository } from './outbox.repository.js';

/**
 * The transactional outbox: features write jobs in their own transaction (OutboxRepository) and
 * the relay enqueues them after the commit. Platform, not a feature, so that every feature that
 * enqueues (market, webhooks, dispatch) depends on it and none on another for it.
 */
@Module({
  providers: [OutboxRepository, OutboxRelayService],
  exports: [OutboxRepository, OutboxRelayService],
})
export class OutboxModule {}
