import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { AdapterKind, PlaceOrder } from './adapters/provider-adapter.js';

/** What a place order carries besides its nodes: the provider's adapter, the lease and its bid's workload. */
export interface OrderPlacement {
  adapter: AdapterKind;
  lease_state: string;
  bid_id: string;
  tenant_id: string;
  gpu_model: string;
  runtime_seconds: number;
  workload: PlaceOrder['workload'];
}

export interface LeaseNodeRow {
  node_id: string;
  external_id: string;
  gpus: number;
}

/** The rows OrderDispatchService and OrderSweeperService read beyond the orders themselves. */
@Injectable()
export class DispatchRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The lease's state; null when there is no such lease. */
  async leaseState(manager: EntityManager, leaseId: string): Promise<string | null> {
    const [lease]: Array<{ state: string }> = await manager.query(`SELECT state FROM leases WHERE id = $1`, [leaseId]);
    return lease?.state ?? null;
  }

  /** The order's provider adapter, lease and bid (an order always has them: foreign keys). */
  async placement(manager: EntityManager, orderId: string): Promise<OrderPlacement> {
    const [row]: OrderPlacement[] = await manager.query(
      `SELECT p.adapter, l.state AS lease_state, l.bid_id, l.tenant_id, l.gpu_model, l.runtime_seconds, b.workload
         FROM orders o JOIN providers p ON p.id = o.provider_id JOIN leases l ON l.id = o.lease_id JOIN bids b ON b.id = l.bid_id
        WHERE o.id = $1`,
      [orderId],
    );
    return row;
  }

  /** The lease's share on one provider: its nodes, by external id. */
  leaseNodes(manager: EntityManager, leaseId: string, providerId: string): Promise<LeaseNodeRow[]> {
    return manager.query(
      `SELECT ln.node_id, n.external_id, ln.gpus FROM lease_nodes ln JOIN nodes n ON n.id = ln.node_id
        WHERE ln.lease_id = $1 AND ln.provider_id = $2 ORDER BY n.external_id`,
      [leaseId, providerId],
    );
  }

  /** Pending orders due `overdueSeconds` ago whose outbox row was relayed (their job should exist), oldest first. */
  async overduePendingOrderIds(overdueSeconds: number): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT o.id FROM orders o
        WHERE o.state = 'pending' AND o.not_before < now() - make_interval(secs => $1::int)
          AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.job_id = o.id::text AND x.relayed_at IS NULL)
        ORDER BY o.not_before LIMIT 1000`,
      [overdueSeconds],
    );
    return rows.map((r) => r.id);
  }
}
