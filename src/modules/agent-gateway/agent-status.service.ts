import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { AdapterRegistry } from '../dispatch/adapter-registry.service.js';
import type { StatusReport } from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { WorkloadStatus } from '../dispatch/adapters/provider-adapter.js';
import { stopRequestedSql } from '../market/orders.repository.js';

/**
 * Status reports of node agents. An agent speaks for its own node only, so a report is first
 * recorded per node and the lease follows the nodes' aggregate (NvidiaAgentAdapter.status: any
 * failure fails it, all must complete to complete it), never one node's word.
 */
@Injectable()
export class AgentStatusService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: AdapterRegistry,
  ) {}

  /** Records the report and returns the lease's aggregate status; null for providers without agents. */
  async record(providerId: string, leaseId: string, report: StatusReport): Promise<WorkloadStatus | null> {
    const [provider]: Array<{ adapter: string }> = await this.dataSource.query(
      'SELECT adapter FROM providers WHERE id = $1',
      [providerId],
    );
    if (provider?.adapter !== 'nvidia-agent') return null;
    const nodes: string[] = (
      await this.dataSource.query(
        `SELECT n.external_id FROM lease_nodes ln JOIN nodes n ON n.id = ln.node_id
          WHERE ln.lease_id = $1 AND ln.provider_id = $2 ORDER BY n.external_id`,
        [leaseId, providerId],
      )
    ).map((row: { external_id: string }) => row.external_id);
    const node = report.node ?? (nodes.length === 1 ? nodes[0] : undefined);
    if (node === undefined) {
      throw new ValidationFailedError([
        { field: 'node', rule: 'required', message: 'node is required for a lease on several nodes' },
      ]);
    }
    if (!nodes.includes(node)) {
      throw new ValidationFailedError([
        { field: 'node', rule: 'lease_node', message: `node ${node} holds no part of lease ${leaseId}` },
      ]);
    }
    await this.registry.agentQueue(providerId).recordStatus(leaseId, node, { ...report, node });
    const adapter = await this.registry.forProvider(providerId, 'nvidia-agent');
    const [{ stop_requested: stopRequested }]: Array<{ stop_requested: boolean }> = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM orders s WHERE s.lease_id = $1 AND ${stopRequestedSql('s')}) AS stop_requested`,
      [leaseId],
    );
    // The handle place() returns names the lease's nodes in this order; the report may arrive
    // before the place order has stored it, so it is rebuilt from the lease.
    return adapter.status(leaseId, `agent:${nodes.join(',')}`, { stopRequested });
  }
}
