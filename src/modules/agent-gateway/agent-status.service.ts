import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { endpointRefusal } from '../../platform/http/endpoint-guard.js';
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
  private readonly logger = new Logger('AgentStatus');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
    await this.registry.agentQueue(providerId).recordStatus(leaseId, node, {
      ...(await this.routable(providerId, leaseId, report)),
      node,
    });
    const adapter = await this.registry.forProvider(providerId, 'nvidia-agent');
    const stopRequested = await this.repository.stopRequested(leaseId);
    // The handle place() returns names the lease's nodes in this order; the report may arrive
    // before the place order has stored it, so it is rebuilt from the lease.
    return adapter.status(leaseId, `agent:${nodes.join(',')}`, { stopRequested });
  }

  /**
   * The report as recorded: an endpoint the gateway must not be sent to (the market host's
   * loopback, link-local, unroutable; endpoint-guard.ts) is dropped, with a warning, and the rest
   * kept, so the lease follows its workload and the replica simply never becomes routable.
   * Refusing the whole report would leave the agent re-sending it forever.
   */
  private async routable(providerId: string, leaseId: string, report: StatusReport): Promise<StatusReport> {
    if (!report.endpoint || this.config.agentEndpointsAllowLoopback) return report;
    const refusal = await endpointRefusal(report.endpoint);
    if (!refusal) return report;
    this.logger.warn(`provider ${providerId}, lease ${leaseId}: endpoint ${report.endpoint} not routed to: ${refusal}`);
    const { endpoint: _refused, ...rest } = report;
    return rest;
  }
}
