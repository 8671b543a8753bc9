import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { WebhookFanoutRepository } from '../webhooks/webhook-fanout.repository.js';

export const MARKET_EVENT_TYPES = [
  'bid.allocated',
  'bid.expired',
  'lease.running',
  'lease.preemption_notice',
  'lease.preempted',
  'lease.completed',
  'lease.failed',
  /** An order to stop the lease's workload failed for good; it may still run (docs/operations.md). */
  'lease.stop_failed',
  /** The workload the market failed to stop is gone; its GPUs are free again. */
  'lease.stop_confirmed',
  'round.cleared',
] as const;

export type MarketEventType = (typeof MARKET_EVENT_TYPES)[number];

export interface MarketEvent {
  readonly tenantId: string;
  readonly type: MarketEventType;
  readonly subjectId: string;
  readonly data: Record<string, unknown>;
}

/**
 * Events for tenants, written in the transaction of the change they report, together with the
 * webhook deliveries they cause.
 */
@Injectable()
export class MarketEventsRepository {
  constructor(private readonly webhooks: WebhookFanoutRepository) {}

  async add(manager: EntityManager, events: readonly MarketEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const ids = events.map(() => randomUUID());
    await manager.query(
      `INSERT INTO market_events (id, tenant_id, type, subject_id, data)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::jsonb[])`,
      [ids, events.map((e) => e.tenantId), events.map((e) => e.type), events.map((e) => e.subjectId), events.map((e) => JSON.stringify(e.data))],
    );
    await this.webhooks.fanOut(manager, events.map((e, i) => ({ id: ids[i], tenantId: e.tenantId, type: e.type })));
    return ids;
  }
}
