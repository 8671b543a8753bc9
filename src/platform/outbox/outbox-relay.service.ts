import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { TransactionRunner } from '../database/transaction-runner.js';
import { failpoint } from '../failpoint.js';
import { JOB_QUEUE } from '../queue/job-queue.module.js';
import type { JobQueue } from '../queue/job-queue.js';
import { IntervalTask } from '../timers/interval-task.js';
import { OutboxRepository, type PendingMessage } from './outbox.repository.js';

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
  private readonly task = new IntervalTask(() => this.relay(), SWEEP_MS);
  private running: Promise<number> | null = null;
  private requested = false;

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly outbox: OutboxRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
  ) {}

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.task.stop();
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
          const sent = await this.enqueue(manager, rows);
          if (rows.length > 0) failpoint('outbox.relay');
          await this.outbox.markRelayed(manager, sent);
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

  /**
   * Enqueues a batch in one call; returns the ids to mark relayed. When the call fails while the
   * queue answers, some row is at fault: the rows go one by one and the ones the queue refuses
   * are set aside with their error (logged), so one malformed job cannot hold back every order
   * and webhook behind it. When the queue does not answer, the batch waits for the next sweep.
   */
  private async enqueue(manager: EntityManager, rows: readonly PendingMessage[]): Promise<string[]> {
    const now = Date.now();
    const job = (row: PendingMessage) => ({
      name: row.jobName,
      payload: row.payload,
      options: { jobId: row.jobId, delayMs: row.deliverAt ? Math.max(0, row.deliverAt.getTime() - now) : 0 },
    });
    try {
      await this.queue.enqueueMany(rows.map(job));
      return rows.map((r) => r.id);
    } catch (error) {
      await this.queue.ping().catch(() => {
        throw error;
      });
    }
    const sent: string[] = [];
    for (const row of rows) {
      // Twice, so that a blip of the queue on this one row does not set an order aside.
      const once = () => this.queue.enqueueMany([job(row)]);
      try {
        await once().catch(once);
        sent.push(row.id);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await this.queue.ping().catch(() => {
          throw error;
        });
        this.logger.error(
          `outbox row ${row.id} (${row.jobName}, job ${row.jobId}) set aside: the queue refused it: ${message}`,
        );
        await this.outbox.markFailed(manager, row.id, message);
      }
    }
    return sent;
  }
}
