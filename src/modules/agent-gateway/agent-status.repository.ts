import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { stopRequestedSql } from '../orders/orders.repository.js';

/** What AgentStatusService reads to judge an agent's report: the provider, the lease's nodes, its stop orders. */
@Injectable()
export class AgentStatusRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** The provider's adapter; null when there is no such provider. */
  async providerAdapter(providerId: string): Promise<string | null> {
    const [provider]: Array<{ adapter: string }> = await this.dataSource.query(
      'SELECT adapter FROM providers WHERE id = $1',
      [providerId],
    );
    return provider?.adapter ?? null;
  }

  /** The external ids of the provider's nodes that hold part of the lease, in order. */
  async leaseNodeExternalIds(leaseId: string, providerId: string): Promise<string[]> {
    const rows: Array<{ external_id: string }> = await this.dataSource.query(
      `SELECT n.external_id FROM lease_nodes ln JOIN nodes n ON n.id = ln.node_id
        WHERE ln.lease_id = $1 AND ln.provider_id = $2 ORDER BY n.external_id`,
      [leaseId, providerId],
    );
    return rows.map((row) => row.external_id);
  }

  /** Whether a stop of the lease is due or carried out. */
  async stopRequested(leaseId: string): Promise<boolean> {
    const [{ stop_requested: stopRequested }]: Array<{ stop_requested: boolean }> = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM orders s WHERE s.lease_id = $1 AND ${stopRequestedSql('s')}) AS stop_requested`,
      [leaseId],
    );
    return stopRequested;
  }
}
