import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { failpoint } from '../../platform/failpoint.js';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { OutboxRepository } from './outbox.repository.js';

const BATCH = 500;
const SWEEP_MS = 2_000;

/**
 * Moves committed outbox rows to the job queue. A row is marked relayed in the same
 * transaction that read it, after the queue accepted it; if the queue is down the transaction
 * rolls back and the rows wait for the next sweep. A row relayed twice (crash between enqueue
 * and commit) is one job thanks to its job id, and handlers are idempotent anyway.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private requested = false;

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly outbox: OutboxRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.relay().catch(() => {}), SWEEP_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /**
   * Relays everything committed before the call; returns how many rows went to the queue. One
   * relay at a time per process (SKIP LOCKED keeps replicas off each other's rows). A call that
   * comes while a relay runs asks for one more pass, since that relay may have read the outbox
   * before the caller's rows committed; callers that come together share the pass.
   */
  relay(): Promise<number> {
    this.requested = true;
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async drain(): Promise<number> {
    let total = 0;
    while (this.requested) {
      this.requested = false;
      total += await this.relayAll();
    }
    return total;
  }

  private async relayAll(): Promise<number> {
    let total = 0;
    for (;;) {
      const relayed = await this.transactions
        .run(async (manager) => {
          const rows = await this.outbox.claimPending(manager, BATCH);
          const now = Date.now();
          await this.queue.enqueueMany(
            rows.map((row) => ({
              name: row.jobName,
              payload: row.payload,
              options: { jobId: row.jobId, delayMs: row.deliverAt ? Math.max(0, row.deliverAt.getTime() - now) : 0 },
            })),
          );
          if (rows.length > 0) failpoint('outbox.relay');
          await this.outbox.markRelayed(manager, rows.map((r) => r.id));
          return rows.length;
        })
        .catch((error: unknown) => {
          this.logger.warn(`outbox relay paused: ${error instanceof Error ? error.message : String(error)}`);
          return -1;
        });
      if (relayed <= 0) return total;
      total += relayed;
      if (relayed < BATCH) return total;
    }
  }
}
