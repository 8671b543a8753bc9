import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { BullMqJobQueue } from './bullmq-job-queue.js';
import { InProcessJobQueue } from './in-process-job-queue.js';
import type { JobQueue } from './job-queue.js';

export const JOB_QUEUE = Symbol('JOB_QUEUE');

class JobQueueLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(@Inject(JOB_QUEUE) private readonly queue: JobQueue) {}
  // Handlers are registered by feature modules during init; workers start after all of them.
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.start();
  }
  // Before any module shuts down: closing waits for running jobs (a round, an order), which still
  // need the database and the other services that close in onApplicationShutdown.
  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }
}

/** BullMQ when REDIS_URL is set, otherwise jobs run in this process through the same handlers. */
@Global()
@Module({})
export class JobQueueModule {
  static forRoot(): DynamicModule {
    return {
      module: JobQueueModule,
      providers: [
        {
          provide: JOB_QUEUE,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig): JobQueue => {
            const logger = new Logger('Jobs');
            const log = (message: string) => logger.warn(message);
            const policies = {
              'order.dispatch': { attempts: config.orderRetryAttempts, backoffMs: config.orderRetryBackoffMs },
            };
            return config.redisUrl
              ? new BullMqJobQueue(config.redisUrl, { log, policies, prefix: config.queuePrefix })
              : new InProcessJobQueue({ log, policies });
          },
        },
        JobQueueLifecycle,
      ],
      exports: [JOB_QUEUE],
    };
  }
}
