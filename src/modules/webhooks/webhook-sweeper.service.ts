import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { IntervalTask } from '../../platform/timers/interval-task.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { deliveryJobId } from './webhook-fanout.repository.js';

const SWEEP_EVERY_MS = 15_000;
/** A delivery due this long ago, still pending and not held by a worker, has lost its job. */
const OVERDUE_SECONDS = 60;

/**
 * The outbox hands each attempt to the queue once. A queue that loses jobs (Redis restarted
 * empty, an in-process queue restarted with delayed retries in its timers, a job that crashed
 * before recording its attempt) would leave deliveries pending forever, so overdue ones are
 * enqueued again. The job id is new, since an old one may still be remembered by BullMQ as
 * failed; a duplicate job is harmless because an attempt first claims its delivery.
 */
@Injectable()
export class WebhookSweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WebhookSweeper');
  private readonly task = new IntervalTask(() => this.sweep(), SWEEP_EVERY_MS);

  constructor(
    private readonly dataSource: DataSource,
    private readonly deliveries: WebhookDeliveriesRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start();
  }

  onApplicationShutdown(): void {
    this.task.stop();
  }

  async sweep(overdueSeconds = OVERDUE_SECONDS): Promise<number> {
    const rows = await this.deliveries.overdue(this.dataSource.manager, overdueSeconds, 1000);
    const stamp = Date.now();
    await this.queue.enqueueMany(
      rows.map((row) => ({
        name: 'webhook.deliver' as const,
        payload: { deliveryId: row.id },
        options: { jobId: `${deliveryJobId(row.id, row.attempts + 1)}_swept${stamp}` },
      })),
    );
    if (rows.length > 0) this.logger.warn(`re-enqueued ${rows.length} overdue webhook deliveries`);
    return rows.length;
  }
}
