import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { IntervalTask } from '../../platform/timers/interval-task.js';
import { DispatchRepository } from './dispatch.repository.js';

const SWEEP_EVERY_MS = 10_000;
/** An order due this long ago and still pending has lost its job (Redis restarted empty). */
const OVERDUE_SECONDS = 20;

/**
 * The outbox hands each order to the queue once. A queue that loses its jobs (Redis restarted
 * without persistence, a flushed database) would leave orders pending forever, so pending
 * orders that are overdue are enqueued again under the same job id: harmless if the job still
 * exists, and the order's own state makes the handler a no-op once it is done.
 */
@Injectable()
export class OrderSweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OrderSweeper');
  private readonly task = new IntervalTask(() => this.sweep(), SWEEP_EVERY_MS);

  constructor(
    private readonly repository: DispatchRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start();
  }

  onApplicationShutdown(): void {
    this.task.stop();
  }

  async sweep(overdueSeconds = OVERDUE_SECONDS): Promise<number> {
    const ids = await this.repository.overduePendingOrderIds(overdueSeconds);
    for (const id of ids) await this.queue.enqueue('order.dispatch', { orderId: id }, { jobId: id });
    if (ids.length > 0) this.logger.warn(`re-enqueued ${ids.length} overdue orders`);
    return ids.length;
  }
}
