import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { heartbeatIntervalSeconds, type UnavailableGpu } from '../../core/market/node-health.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { type FieldProblem, ValidationFailedError } from '../../platform/errors/app-error.js';
import { AdapterRegistry } from '../dispatch/adapter-registry.service.js';
import type {
  AgentAck,
  AgentLeasesResponse,
  PullOrdersResponse,
} from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { PgAgentOrderQueue } from '../dispatch/adapters/nvidia-agent/pg-agent-order-queue.js';
import type { AgentAckDto, AgentHeartbeatDto, AgentHeartbeatResponseDto } from './agent-gateway.dto.js';
import { AgentGatewayError, AgentGatewayErrorCode } from './agent-gateway.error.js';
import { NodeHeartbeatsRepository } from './node-heartbeats.repository.js';

/**
 * The market's side of the agent protocol (docs/adapters.md): node agents long-poll their
 * orders, acknowledge them, and ask what the market believes runs on their node. Everything is
 * scoped to the calling provider's own queue and nodes. Heartbeats, and every order poll, keep
 * the node out of fencing (node-fencing.service.ts).
 */
@Injectable()
export class AgentGatewayService implements OnApplicationShutdown {
  /** Ends the long polls in flight when the service stops, instead of holding shutdown for 30 s. */
  private readonly stopping = new AbortController();
  private readonly logger = new Logger('AgentGateway');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: AdapterRegistry,
    private readonly heartbeats: NodeHeartbeatsRepository,
  ) {}

  onApplicationShutdown(): void {
    this.stopping.abort();
  }

  /**
   * A poll is a heartbeat at its start and again at its end (a long poll lasts up to 30 s), so an
   * agent that only polls stays healthy; it leaves the GPUs' availability as it was.
   */
  async pull(providerId: string, node: string, waitSeconds: number, gone: AbortSignal): Promise<PullOrdersResponse> {
    await this.beat(providerId, node);
    const queue = this.registry.agentQueue(providerId);
    const orders = await queue.pull(node, waitSeconds * 1000, AbortSignal.any([gone, this.stopping.signal]));
    if (!gone.aborted && waitSeconds > 0) await this.beat(providerId, node);
    return { orders };
  }

  async heartbeat(providerId: string, body: AgentHeartbeatDto): Promise<AgentHeartbeatResponseDto> {
    let unavailable: UnavailableGpu[] | undefined;
    if (body.gpus !== undefined) {
      const node = await this.heartbeats.find(providerId, body.node);
      if (!node) throw this.unknownNode(body.node);
      const problems: FieldProblem[] = [];
      const seen = new Set<number>();
      body.gpus.forEach((gpu, i) => {
        if (gpu.index >= node.gpus) {
          problems.push({
            field: `gpus[${i}].index`,
            rule: 'below_node_gpus',
            message: `index ${gpu.index}: node ${body.node} has ${node.gpus} GPUs (0-${node.gpus - 1})`,
          });
        } else if (seen.has(gpu.index)) {
          problems.push({
            field: `gpus[${i}].index`,
            rule: 'unique',
            message: `GPU ${gpu.index} appears more than once`,
          });
        }
        seen.add(gpu.index);
      });
      if (problems.length > 0) throw new ValidationFailedError(problems);
      unavailable = body.gpus
        .filter((g) => !g.available)
        .map((g) => ({ index: g.index, reason: g.reason ?? 'unhealthy' }));
    }
    await this.beat(providerId, body.node, unavailable);
    const unreachableAfterSeconds = this.config.heartbeatUnreachableSeconds;
    return { heartbeatIntervalSeconds: heartbeatIntervalSeconds(unreachableAfterSeconds), unreachableAfterSeconds };
  }

  async acknowledge(providerId: string, orderId: string, body: AgentAckDto): Promise<void> {
    const queue = this.registry.agentQueue(providerId);
    if (!(await queue.hasOrder(orderId))) {
      throw new AgentGatewayError(AgentGatewayErrorCode.OrderNotFound, `no agent order ${orderId}`);
    }
    const ack: AgentAck = body.ok
      ? {
          ok: true,
          ...(body.handle !== undefined ? { handle: body.handle } : {}),
          ...(body.gpuIndices ? { gpuIndices: body.gpuIndices } : {}),
        }
      : { ok: false, error: { kind: body.error!.kind, message: body.error!.message } };
    await queue.acknowledge(orderId, ack);
  }

  async leases(providerId: string, node: string): Promise<AgentLeasesResponse> {
    const queue = await this.nodeQueue(providerId, node);
    return { leases: await queue.leasesOnNode(node) };
  }

  private async beat(providerId: string, node: string, unavailable?: readonly UnavailableGpu[]): Promise<void> {
    const result = await this.heartbeats.beat(providerId, node, unavailable);
    if (!result) throw this.unknownNode(node);
    if (result.wasFenced)
      this.logger.log(`node ${node} is heard from again after it was fenced: it takes placements again`);
  }

  private unknownNode(node: string): AgentGatewayError {
    return new AgentGatewayError(
      AgentGatewayErrorCode.NodeNotFound,
      `no node ${node} is registered with this provider`,
    );
  }

  private async nodeQueue(providerId: string, node: string): Promise<PgAgentOrderQueue> {
    const queue = this.registry.agentQueue(providerId);
    if (!(await queue.isRegistered(node))) throw this.unknownNode(node);
    return queue;
  }
}
