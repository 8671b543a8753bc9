import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { OutboxRepository } from '../../platform/outbox/outbox.repository.js';

export interface FannedOutEvent {
  readonly id: string;
  readonly tenantId: string;
  readonly type: string;
}

/**
 * The job id of a delivery's n-th attempt: each attempt is its own job, so none is deduplicated
 * away by an earlier one that BullMQ still remembers. (BullMQ refuses ':' in job ids.)
 */
export const deliveryJobId = (deliveryId: string, attempt: number): string => `${deliveryId}_${attempt}`;

/**
 * One delivery per event and live endpoint of the event's own tenant that asked for its type,
 * with one job per endpoint that sends them (a job takes all its endpoint's due deliveries, see
 * WebhookDeliveryService: a round's 1,000 events to 50 endpoints are 50 jobs, not 1,000), written
 * in the caller's transaction (the one that writes the event): a rolled-back change sends
 * nothing, a committed one loses nothing. Provided by MarketModule,
 * whose events repository calls it, so the market depends on this one query and nothing else.
 */
@Injectable()
export class WebhookFanoutRepository {
  constructor(private readonly outbox: OutboxRepository) {}

  async fanOut(manager: EntityManager, events: readonly FannedOutEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const deliveries: Array<{ id: string; endpointId: string }> = await manager.query(
      `INSERT INTO webhook_deliveries (id, endpoint_id, tenant_id, event_id)
       SELECT gen_random_uuid(), w.id, w.tenant_id, v.id
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS v(id, tenant_id, type)
         JOIN webhook_endpoints w ON w.tenant_id = v.tenant_id AND v.type = ANY (w.events)
        WHERE w.deleted_at IS NULL AND w.disabled_at IS NULL
       RETURNING id, endpoint_id AS "endpointId"`,
      [events.map((e) => e.id), events.map((e) => e.tenantId), events.map((e) => e.type)],
    );
    const firstOfEndpoint = new Map<string, string>();
    for (const d of deliveries) if (!firstOfEndpoint.has(d.endpointId)) firstOfEndpoint.set(d.endpointId, d.id);
    await this.outbox.add(
      manager,
      [...firstOfEndpoint.values()].map((id) => ({
        jobName: 'webhook.deliver' as const,
        payload: { deliveryId: id },
        jobId: deliveryJobId(id, 1),
      })),
    );
    return deliveries.length;
  }
}
