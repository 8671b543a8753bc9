import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { IntervalTask } from '../../platform/timers/interval-task.js';
import { RetentionRepository, type RetentionTable } from './retention.repository.js';

const SWEEP_EVERY_MS = 60 * 60_000;
const FIRST_SWEEP_AFTER_MS = 60_000;
/** Rows deleted per statement: each statement is its own short transaction and holds few locks. */
const BATCH = 5_000;
/** A relayed outbox row is plumbing: once the queue has its job, nothing reads it again. */
const RELAYED_OUTBOX_KEEP_MS = 24 * 3600_000;
const DAY_MS = 24 * 3600_000;

export interface RetentionCounts {
  deliveries: number;
  events: number;
  outbox: number;
  nodePrices: number;
  serviceTraffic: number;
}

/**
 * Keeps the tables that grow with every round from growing forever: webhook deliveries that
 * are finished (succeeded or failed) and older than RETENTION_DAYS go with their attempts,
 * then events that no delivery refers to any more, then outbox rows relayed over a day ago,
 * and node prices older than RETENTION_DAYS (one row per node per round: the largest table a
 * market writes; pools keep their index and node-price band for good, and every ledger row
 * keeps the node price it was settled at), and services' per-minute request counts older than
 * RETENTION_DAYS (their totals stay on the service). Pending deliveries, their events and outbox rows the
 * queue refused are never touched; rounds, pool prices, leases, orders, the ledger and
 * `round.cleared` events are finance's record and are kept. Replicas may sweep
 * at once: SKIP LOCKED keeps them off each other's rows.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Retention');
  private readonly task = new IntervalTask(
    () =>
      this.sweep().catch((error: unknown) =>
        this.logger.error(`retention sweep failed: ${error instanceof Error ? error.message : String(error)}`),
      ),
    SWEEP_EVERY_MS,
    // Soon after start too, so replicas restarted more often than hourly still sweep.
    FIRST_SWEEP_AFTER_MS,
  );

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: RetentionRepository,
  ) {}

  onApplicationBootstrap(): void {
    // Always: relayed outbox rows go whatever RETENTION_DAYS says.
    this.task.start();
  }

  onApplicationShutdown(): void {
    this.task.stop();
  }

  async sweep(now = new Date()): Promise<RetentionCounts> {
    const counts: RetentionCounts = { deliveries: 0, events: 0, outbox: 0, nodePrices: 0, serviceTraffic: 0 };
    if (this.config.retentionDays > 0) {
      const cutoff = new Date(now.getTime() - this.config.retentionDays * DAY_MS);
      counts.deliveries = await this.inBatches('deliveries', cutoff);
      counts.events = await this.inBatches('events', cutoff);
      counts.nodePrices = await this.inBatches('nodePrices', cutoff);
      counts.serviceTraffic = await this.inBatches('serviceTraffic', cutoff);
    }
    counts.outbox = await this.inBatches('outbox', new Date(now.getTime() - RELAYED_OUTBOX_KEEP_MS));
    if (counts.deliveries + counts.events + counts.outbox + counts.nodePrices + counts.serviceTraffic > 0) {
      this.logger.log(
        `deleted ${counts.deliveries} webhook deliveries, ${counts.events} events, ${counts.outbox} relayed outbox rows, ` +
          `${counts.nodePrices} node prices and ${counts.serviceTraffic} service traffic minutes past retention`,
      );
    }
    return counts;
  }

  private async inBatches(table: RetentionTable, cutoff: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.repository.deleteBatch(table, cutoff, BATCH);
      total += deleted;
      // Until nothing is left: a delivery freed by its redelivery's removal goes in the next batch.
      if (deleted === 0) return total;
    }
  }
}
