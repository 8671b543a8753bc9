import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AdapterRegistry } from '../dispatch/adapter-registry.service.js';
import type { AgentAck, AgentLeasesResponse, PullOrdersResponse } from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { PgAgentOrderQueue } from '../dispatch/adapters/nvidia-agent/pg-agent-order-queue.js';
import type { AgentAckDto } from './agent-gateway.dto.js';
import { AgentGatewayError, AgentGatewayErrorCode } from './agent-gateway.error.js';

/**
 * The market's side of the agent protocol (docs/adapters.md): node agents long-poll their
 * orders, acknowledge them, and ask what the market believes runs on their node. Everything is
 * scoped to the calling provider's own queue and nodes.
 */
@Injectable()
export class AgentGatewayService implements OnApplicationShutdown {
  /** Ends the long polls in flight when the service stops, instead of holding shutdown for 30 s. */
  private readonly stopping = new AbortController();

  constructor(private readonly registry: AdapterRegistry) {}

  onApplicationShutdown(): void {
    this.stopping.abort();
  }

  async pull(providerId: string, node: string, waitSeconds: number, gone: AbortSignal): Promise<PullOrdersResponse> {
    const queue = await this.nodeQueue(providerId, node);
    const orders = await queue.pull(node, waitSeconds * 1000, AbortSignal.any([gone, this.stopping.signal]));
    return { orders };
  }

  async acknowledge(providerId: string, orderId: string, body: AgentAckDto): Promise<void> {
    const queue = this.registry.agentQueue(providerId);
    if (!(await queue.hasOrder(orderId))) {
      throw new AgentGatewayError(AgentGatewayErrorCode.OrderNotFound, `no agent order ${orderId}`);
    }
    const ack: AgentAck = body.ok
      ? { ok: true, ...(body.handle !== undefined ? { handle: body.handle } : {}), ...(body.gpuIndices ? { gpuIndices: body.gpuIndices } : {}) }
      : { ok: false, error: { kind: body.error!.kind, message: body.error!.message } };
    await queue.acknowledge(orderId, ack);
  }

  async leases(providerId: string, node: string): Promise<AgentLeasesResponse> {
    const queue = await this.nodeQueue(providerId, node);
    return { leases: await queue.leasesOnNode(node) };
  }

  private async nodeQueue(providerId: string, node: string): Promise<PgAgentOrderQueue> {
    const queue = this.registry.agentQueue(providerId);
    if (!(await queue.isRegistered(node))) {
      throw new AgentGatewayError(AgentGatewayErrorCode.NodeNotFound, `no node ${node} is registered with this provider`);
    }
    return queue;
  }
}
