import { Inject, Injectable, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { OutboxModule } from '../../platform/outbox/outbox.module.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { WEBHOOK_SECRET_BOX, webhookSecretBox } from './webhook-secret-key.js';
import { WebhookSecretsService } from './webhook-secrets.service.js';
import { WebhookSweeperService } from './webhook-sweeper.service.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksService } from './webhooks.service.js';

@Injectable()
class WebhookJobs implements OnModuleInit {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly delivery: WebhookDeliveryService,
  ) {}

  onModuleInit(): void {
    this.queue.handle('webhook.deliver', ({ deliveryId }) => this.delivery.deliver(deliveryId), {
      concurrency: this.config.webhooks.concurrency,
    });
  }
}

/**
 * Tenants' webhooks. Deliveries are created by the market's events repository (see
 * WebhookFanoutRepository, provided by MarketModule) and sent by the `webhook.deliver` job here.
 */
@Module({
  imports: [OutboxModule],
  controllers: [WebhooksController],
  providers: [
    {
      provide: WEBHOOK_SECRET_BOX,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => webhookSecretBox(config, new Logger('Webhooks')),
    },
    WebhookEndpointsRepository,
    WebhookDeliveriesRepository,
    WebhookSecretsService,
    WebhooksService,
    WebhookDeliveryService,
    WebhookSweeperService,
    WebhookJobs,
  ],
})
export class WebhooksModule {}
