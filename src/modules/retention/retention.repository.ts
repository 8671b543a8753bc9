import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { updateReturning } from '../../platform/database/update-returning.js';

/** What the retention sweep deletes, one batch per statement (docs/operations.md, "Retention"). */
export type RetentionTable = 'deliveries' | 'events' | 'outbox' | 'nodePrices' | 'serviceTraffic';

@Injectable()
export class RetentionRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Deletes up to `batch` rows of `table` older than `before`; how many went. */
  async deleteBatch(table: RetentionTable, before: Date, batch: number): Promise<number> {
    const rows = await updateReturning<{ id: string }>(this.dataSource.manager, DELETE[table], [before, batch]);
    return rows.length;
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

const DELETE: Record<RetentionTable, string> = {
  deliveries: DELETE_DELIVERIES,
  events: DELETE_EVENTS,
  outbox: DELETE_RELAYED_OUTBOX,
  nodePrices: DELETE_NODE_PRICES,
  serviceTraffic: DELETE_SERVICE_TRAFFIC,
};
