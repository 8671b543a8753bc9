import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { WebhookFanoutRepository } from '../webhooks/webhook-fanout.repository.js';

export { MARKET_EVENT_TYPES, type MarketEventType } from '../../core/market/market-events.js';
import type { MarketEventType } from '../../core/market/market-events.js';

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
      [
        ids,
        events.map((e) => e.tenantId),
        events.map((e) => e.type),
        events.map((e) => e.subjectId),
        events.map((e) => JSON.stringify(e.data)),
      ],
    );
    await this.webhooks.fanOut(
      manager,
      events.map((e, i) => ({ id: ids[i], tenantId: e.tenantId, type: e.type })),
    );
    return ids;
  }
}
