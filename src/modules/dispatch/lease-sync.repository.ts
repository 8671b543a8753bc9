import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { STOP_UNCONFIRMED } from '../leases/held-gpus.js';
import { stopRequestedSql } from '../orders/orders.repository.js';
import type { AdapterKind } from './adapters/provider-adapter.js';

/** A workload placed on a provider whose adapter is asked for its status. */
export interface PlacedWorkloadRow {
  lease_id: string;
  provider_id: string;
  adapter: AdapterKind;
  handle: string;
  stop_requested: boolean;
  lease_state: string;
  allocated_at: Date;
}

/** A workload the market failed to stop, on one provider. */
export interface UnstoppedWorkloadRow {
  lease_id: string;
  provider_id: string;
  adapter: AdapterKind;
  handle: string;
  /** No terminate is in flight and none was carried out in the last retry interval. */
  retry_due: boolean;
}

/** The rows LeaseSyncService asks adapters about. */
@Injectable()
export class LeaseSyncRepository {
  /** Places carried out for live leases on providers whose adapter is one of `adapters`. */
  placedLiveWorkloads(manager: EntityManager, adapters: readonly AdapterKind[]): Promise<PlacedWorkloadRow[]> {
    return manager.query(
      `SELECT o.lease_id, o.provider_id, p.adapter, o.handle, l.state AS lease_state, l.allocated_at,
              EXISTS (SELECT 1 FROM orders s WHERE s.lease_id = o.lease_id AND ${stopRequestedSql('s')}) AS stop_requested
         FROM orders o JOIN leases l ON l.id = o.lease_id JOIN providers p ON p.id = o.provider_id
        WHERE o.type = 'place' AND o.state = 'done' AND o.handle IS NOT NULL
          AND l.state IN ('allocated', 'running', 'preempting') AND p.adapter = ANY($1::text[])`,
      [adapters],
    );
  }

  /**
   * Leases allocated `timeoutSeconds` before `at` whose places all succeeded, none on a provider
   * whose adapter is one of `polled`; oldest first.
   */
  async unpolledStartTimeouts(
    manager: EntityManager,
    at: Date,
    timeoutSeconds: number,
    polled: readonly AdapterKind[],
  ): Promise<string[]> {
    const rows: Array<{ id: string }> = await manager.query(
      `SELECT l.id FROM leases l
        WHERE l.state = 'allocated' AND l.allocated_at <= $1::timestamptz - make_interval(secs => $2::int)
          AND EXISTS (SELECT 1 FROM orders o WHERE o.lease_id = l.id AND o.type = 'place')
          AND NOT EXISTS (SELECT 1 FROM orders o JOIN providers p ON p.id = o.provider_id
                           WHERE o.lease_id = l.id AND o.type = 'place' AND (o.state <> 'done' OR p.adapter = ANY($3::text[])))
        ORDER BY l.allocated_at LIMIT 1000`,
      [at, timeoutSeconds, polled],
    );
    return rows.map((r) => r.id);
  }

  /** Placed workloads of ended leases whose stop failed and is not confirmed, with whether a retry is due at `at`. */
  unstoppedWorkloads(manager: EntityManager, at: Date, retrySeconds: number): Promise<UnstoppedWorkloadRow[]> {
    return manager.query(
      `SELECT l.id AS lease_id, o.provider_id, p.adapter, o.handle,
              NOT EXISTS (SELECT 1 FROM orders s WHERE s.lease_id = l.id AND s.provider_id = o.provider_id AND s.type = 'terminate'
                            AND (s.state IN ('pending', 'sent') OR s.updated_at > $1::timestamptz - make_interval(secs => $2::int))) AS retry_due
         FROM leases l JOIN orders o ON o.lease_id = l.id AND o.type = 'place' AND o.handle IS NOT NULL
         JOIN providers p ON p.id = o.provider_id
        WHERE ${STOP_UNCONFIRMED}`,
      [at, retrySeconds],
    );
  }
}
