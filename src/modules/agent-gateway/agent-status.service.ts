import { Injectable } from '@nestjs/common';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { AdapterRegistry } from '../dispatch/adapter-registry.service.js';
import type { StatusReport } from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { WorkloadStatus } from '../dispatch/adapters/provider-adapter.js';
import { AgentStatusRepository } from './agent-status.repository.js';

/**
 * Status reports of node agents. An agent speaks for its own node only, so a report is first
 * recorded per node and the lease follows the nodes' aggregate (NvidiaAgentAdapter.status: any
 * failure fails it, all must complete to complete it), never one node's word.
 */
@Injectable()
export class AgentStatusService {
  constructor(
    private readonly repository: AgentStatusRepository,
    private readonly registry: AdapterRegistry,
  ) {}

  /** Records the report and returns the lease's aggregate status; null for providers without agents. */
  async record(providerId: string, leaseId: string, report: StatusReport): Promise<WorkloadStatus | null> {
    if ((await this.repository.providerAdapter(providerId)) !== 'nvidia-agent') return null;
    const nodes = await this.repository.leaseNodeExternalIds(leaseId, providerId);
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
    const stopRequested = await this.repository.stopRequested(leaseId);
    // The handle place() returns names the lease's nodes in this order; the report may arrive
    // before the place order has stored it, so it is rebuilt from the lease.
    return adapter.status(leaseId, `agent:${nodes.join(',')}`, { stopRequested });
  }
}
