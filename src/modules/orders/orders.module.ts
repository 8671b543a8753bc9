import { Module } from '@nestjs/common';
import { OutboxModule } from '../../platform/outbox/outbox.module.js';
import { OrdersRepository } from './orders.repository.js';

/** Orders to provider adapters: written by the round's commit and lease changes, carried out by dispatch. */
@Module({
  imports: [OutboxModule],
  providers: [OrdersRepository],
  exports: [OrdersRepository],
})
export class OrdersModule {}
