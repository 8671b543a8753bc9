import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { fencedLeaseEnd } from '../../core/market/node-health.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { IntervalTask } from '../../platform/timers/interval-task.js';
import { LeaseStateService } from '../leases/lease-state.service.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { NodeHeartbeatsRepository } from './node-heartbeats.repository.js';

/**
 * Fences nodes whose agent went silent (docs/operations.md, "Node health and fencing"): a node
 * heard from at least once and silent for HEARTBEAT_UNREACHABLE_SECONDS is marked unreachable,
 * and each of its live leases fails with `node_unreachable`, ended (and billed) at the node's last
 * heartbeat, its bid reopened as for any failure of the platform, and a terminate ordered so that
 * an agent that comes back stops what it still runs. One transaction per node. Every replica
 * sweeps; the node's row lock and its re-checked silence make a second sweep a no-op.
 */
@Injectable()
export class NodeFencingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('NodeFencing');
  private readonly task: IntervalTask;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionRunner,
    private readonly heartbeats: NodeHeartbeatsRepository,
    private readonly leaseState: LeaseStateService,
    private readonly relay: OutboxRelayService,
  ) {
    // A third of the limit, so a node is fenced at most a third late; never busier than 2/s.
    const everyMs = Math.max(500, Math.min(5_000, Math.floor((config.heartbeatUnreachableSeconds * 1000) / 3)));
    this.task = new IntervalTask(() => this.sweep(), everyMs);
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  onApplicationShutdown(): void {
    this.task.stop();
  }

  /** Fences every node silent past the limit; returns how many were fenced. */
  async sweep(): Promise<number> {
    const limit = this.config.heartbeatUnreachableSeconds;
    let fenced = 0;
    for (const nodeId of await this.heartbeats.silentNodeIds(limit)) {
      try {
        fenced += Number(await this.transactions.run((manager) => this.fence(manager, nodeId, limit)));
      } catch (error) {
        this.logger.error(`fencing node ${nodeId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // Tenants hear of their failed leases now, not at the next outbox sweep.
    if (fenced > 0) await this.relay.relay();
    return fenced;
  }

  private async fence(manager: EntityManager, nodeId: string, limit: number): Promise<boolean> {
    const node = await this.heartbeats.lockSilent(manager, nodeId, limit);
    if (!node) return false;
    await this.heartbeats.markUnreachable(manager, nodeId, node.now);
    const leases = await this.heartbeats.liveLeasesOn(manager, nodeId);
    const reason = `node_unreachable: no heartbeat from node ${node.externalId} since ${node.lastHeartbeatAt.toISOString()}`;
    for (const lease of leases) {
      await this.leaseState.fail(manager, lease.id, node.now, reason, true, undefined, {
        endedAt: fencedLeaseEnd(node.lastHeartbeatAt, lease.startedAt, node.now),
        terminate: true,
      });
    }
    this.logger.warn(
      `node ${node.externalId} (${nodeId}) unreachable: silent since ${node.lastHeartbeatAt.toISOString()}; ${leases.length} lease(s) failed`,
    );
    return true;
  }
}
