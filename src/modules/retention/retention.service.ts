import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { updateReturning } from '../../platform/database/update-returning.js';
import { IntervalTask } from '../../platform/timers/interval-task.js';

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
    private readonly dataSource: DataSource,
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
      counts.deliveries = await this.inBatches(DELETE_DELIVERIES, cutoff);
      counts.events = await this.inBatches(DELETE_EVENTS, cutoff);
      counts.nodePrices = await this.inBatches(DELETE_NODE_PRICES, cutoff);
      counts.serviceTraffic = await this.inBatches(DELETE_SERVICE_TRAFFIC, cutoff);
    }
    counts.outbox = await this.inBatches(DELETE_RELAYED_OUTBOX, new Date(now.getTime() - RELAYED_OUTBOX_KEEP_MS));
    if (counts.deliveries + counts.events + counts.outbox + counts.nodePrices + counts.serviceTraffic > 0) {
      this.logger.log(
        `deleted ${counts.deliveries} webhook deliveries, ${counts.events} events, ${counts.outbox} relayed outbox rows, ` +
          `${counts.nodePrices} node prices and ${counts.serviceTraffic} service traffic minutes past retention`,
      );
    }
    return counts;
  }

  private async inBatches(sql: string, cutoff: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await updateReturning<{ id: string }>(this.dataSource.manager, sql, [cutoff, BATCH]);
      total += rows.length;
      // Until nothing is left: a delivery freed by its redelivery's removal goes in the next batch.
      if (rows.length === 0) return total;
    }
  }
}

// A redelivery refers to the delivery it repeats, so that one goes in the next batch.
// The attempts go in the same statement: foreign keys are checked at its end.
const DELETE_DELIVERIES = `
  WITH doomed AS (
    SELECT d.id FROM webhook_deliveries d
     WHERE d.status <> 'pending' AND d.created_at < $1
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries r WHERE r.redelivery_of = d.id)
     LIMIT $2 FOR UPDATE OF d SKIP LOCKED
  ), attempts AS (
    DELETE FROM webhook_attempts a USING doomed WHERE a.delivery_id = doomed.id
  )
  DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id RETURNING d.id`;

// `round.cleared` events stay: they are the record of each round's losers and their reasons
// that the round audit report reads (reports.repository.ts, auditLosers).
const DELETE_EVENTS = `
  DELETE FROM market_events e WHERE e.id IN (
    SELECT x.id FROM market_events x
     WHERE x.created_at < $1 AND x.type <> 'round.cleared'
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = x.id)
     LIMIT $2 FOR UPDATE OF x SKIP LOCKED)
  RETURNING e.id`;

const DELETE_RELAYED_OUTBOX = `
  DELETE FROM outbox o WHERE o.id IN (
    SELECT x.id FROM outbox x WHERE x.relayed_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING o.id`;

const DELETE_NODE_PRICES = `
  DELETE FROM node_prices p WHERE (p.round_id, p.node_id) IN (
    SELECT x.round_id, x.node_id FROM node_prices x WHERE x.period_start < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING p.round_id AS id`;

const DELETE_SERVICE_TRAFFIC = `
  DELETE FROM service_traffic t WHERE (t.service_id, t.minute) IN (
    SELECT x.service_id, x.minute FROM service_traffic x WHERE x.minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
  RETURNING t.service_id AS id`;
