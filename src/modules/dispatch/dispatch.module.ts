import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { MarketModule } from '../market/market.module.js';
import { AdapterRegistry } from './adapter-registry.service.js';
import { DispatchRepository } from './dispatch.repository.js';
import { LeaseSyncRepository } from './lease-sync.repository.js';
import { LeaseSyncService } from './lease-sync.service.js';
import { OrderDispatchService } from './order-dispatch.service.js';
import { OrderSweeperService } from './order-sweeper.service.js';
import { ProviderHoldsRepository } from './provider-holds.repository.js';
import { ProviderHoldsService } from './provider-holds.service.js';

const SYNC_EVERY_MS = 5_000;

@Injectable()
class DispatchJobs implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly dispatch: OrderDispatchService,
    private readonly sync: LeaseSyncService,
  ) {}

  onModuleInit(): void {
    this.queue.handle('order.dispatch', ({ orderId }) => this.dispatch.dispatch(orderId), {
      onDeadLetter: ({ orderId }, error) => this.dispatch.deadLetter(orderId, error),
      concurrency: 8,
    });
    this.queue.handle('lease.sync', async () => void (await this.sync.syncAll()), { concurrency: 1 });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.repeat('lease.sync', Math.min(SYNC_EVERY_MS, this.config.roundPeriodSeconds * 1000), {});
  }
}

@Module({
  imports: [MarketModule],
  providers: [
    AdapterRegistry,
    DispatchRepository,
    OrderDispatchService,
    LeaseSyncRepository,
    LeaseSyncService,
    OrderSweeperService,
    ProviderHoldsRepository,
    ProviderHoldsService,
    DispatchJobs,
  ],
  exports: [AdapterRegistry, LeaseSyncService, OrderSweeperService, ProviderHoldsService],
})
export class DispatchModule {}
