import { Injectable, Logger } from '@nestjs/common';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { LeaseStateService } from '../market/lease-state.service.js';
import { OutboxRelayService } from '../market/outbox-relay.service.js';
import { AdapterRegistry } from './adapter-registry.service.js';
import type { AdapterKind, WorkloadStatus } from './adapters/provider-adapter.js';

/** Adapters that report status only when asked; the agent pushes its own. */
const POLLED: readonly AdapterKind[] = ['simulated', 'slurm', 'kubernetes'];

/**
 * Asks adapters how the workloads of live leases are doing and applies what they say: started,
 * ended by itself, failed, or vanished. Reports from pushing adapters (POST
 * /v1/leases/:id/status) go through `apply` too.
 */
@Injectable()
export class LeaseSyncService {
  private readonly logger = new Logger('LeaseSync');

  constructor(
    private readonly transactions: TransactionRunner,
    private readonly leaseState: LeaseStateService,
    private readonly adapters: AdapterRegistry,
    private readonly relay: OutboxRelayService,
  ) {}

  async syncAll(at: Date = new Date()): Promise<number> {
    const rows: Array<{ lease_id: string; provider_id: string; adapter: AdapterKind; handle: string }> = await this.transactions.run((m) =>
      m.query(
        `SELECT o.lease_id, o.provider_id, p.adapter, o.handle
           FROM orders o JOIN leases l ON l.id = o.lease_id JOIN providers p ON p.id = o.provider_id
          WHERE o.type = 'place' AND o.state = 'done' AND o.handle IS NOT NULL
            AND l.state IN ('allocated', 'running', 'preempting') AND p.adapter = ANY($1::text[])`,
        [POLLED],
      ),
    );
    let changed = 0;
    for (const row of rows) {
      try {
        const adapter = await this.adapters.forProvider(row.provider_id, row.adapter);
        const status = await adapter.status(row.lease_id, row.handle);
        changed += Number(await this.apply(row.lease_id, status, at));
      } catch (error) {
        this.logger.warn(`status of lease ${row.lease_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return changed;
  }

  /**
   * Applies one status report; true when the lease changed. A change writes events and orders,
   * relayed at once after the commit (as a round does) rather than by the next outbox sweep, so
   * tenants hear that their workload runs or ended within a second.
   */
  async apply(leaseId: string, status: WorkloadStatus, at: Date = new Date()): Promise<boolean> {
    const changed = await this.applyInTransaction(leaseId, status, at);
    if (changed) await this.relay.relay();
    return changed;
  }

  private applyInTransaction(leaseId: string, status: WorkloadStatus, at: Date): Promise<boolean> {
    return this.transactions.run(async (manager) => {
      switch (status.state) {
        case 'running':
          return this.leaseState.markRunning(manager, leaseId, at);
        case 'completed': {
          // A workload short enough to end between two polls was never seen running.
          const started = await this.leaseState.markRunning(manager, leaseId, at);
          const completed = await this.leaseState.complete(manager, leaseId, at, 'workload_ended', status.exitCode);
          return started || completed;
        }
        case 'failed':
          return this.leaseState.fail(manager, leaseId, at, status.message ?? 'workload_failed', false, status.exitCode);
        case 'stopped':
          // Stopped by our own preempt/terminate: the notice or the cancel already ends the lease.
          return false;
        default:
          return false;
      }
    });
  }
}
