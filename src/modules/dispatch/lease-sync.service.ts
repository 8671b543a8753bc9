import { Inject, Injectable, Logger } from '@nestjs/common';
import { startTimedOut, startTimeoutReason } from '../../core/market/node-health.js';
import { outcomeOfReport } from '../../core/market/workload-report.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { LeaseStateService } from '../leases/lease-state.service.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { AdapterRegistry } from './adapter-registry.service.js';
import type { AdapterKind, StatusQuery, WorkloadStatus } from './adapters/provider-adapter.js';
import { LeaseSyncRepository } from './lease-sync.repository.js';

/** Adapters that report status only when asked; the agent pushes its own. */
const POLLED: readonly AdapterKind[] = ['simulated', 'slurm', 'kubernetes'];

/**
 * Asks adapters how the workloads of live leases are doing and applies what they say: started,
 * ended by itself, failed (the tenant's workload, or lost by the platform), or stopped. Reports
 * from pushing adapters (POST /v1/leases/:id/status) go through `apply` too. What the market
 * itself did to a lease (a stop ordered) comes from its orders table with every question, so
 * any process, freshly started or not, reads a workload the same way. A workload confirmed
 * stopped during its lease's notice ends the lease there, preempted, and billing with it
 * (docs/finance.md, "What a lease is billed for").
 *
 * A lease not running PLACEMENT_START_TIMEOUT_SECONDS after its placement (a Slurm job pending
 * on Resources, a Pod in ImagePullBackOff, an agent that never started it) fails with
 * `start_timeout` and the platform's own reason where its adapter gives one: never charged (its
 * charging starts when it runs), its workload terminated so the platform drops it, its bid
 * reopened as for any failure of the platform.
 *
 * It also follows the workloads the market failed to stop (a dead-lettered terminate): until
 * their adapter says they are gone, their GPUs stay held and the terminate is re-sent every
 * STOP_RETRY_SECONDS.
 */
@Injectable()
export class LeaseSyncService {
  private readonly logger = new Logger('LeaseSync');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionRunner,
    private readonly repository: LeaseSyncRepository,
    private readonly leaseState: LeaseStateService,
    private readonly adapters: AdapterRegistry,
    private readonly relay: OutboxRelayService,
  ) {}

  async syncAll(at: Date = new Date()): Promise<number> {
    const rows = await this.transactions.run((m) => this.repository.placedLiveWorkloads(m, POLLED));
    let changed = 0;
    const statuses = await this.statuses(
      rows.map((r) => ({
        providerId: r.provider_id,
        adapter: r.adapter,
        leaseId: r.lease_id,
        handle: r.handle,
        context: { stopRequested: r.stop_requested },
      })),
    );
    for (const row of rows) {
      try {
        const status = statuses.get(`${row.provider_id}/${row.lease_id}`);
        if (!status || status instanceof Error) throw status ?? new Error('the adapter gave no answer');
        const timeout = this.config.placementStartTimeoutSeconds;
        if (
          row.lease_state === 'allocated' &&
          ['pending', 'unknown'].includes(status.state) &&
          startTimedOut(row.allocated_at, at, timeout)
        ) {
          changed += Number(
            await this.timeOut(
              row.lease_id,
              startTimeoutReason(timeout, status.waitingReason ?? status.message, status.state),
              at,
            ),
          );
          continue;
        }
        changed += Number(await this.apply(row.lease_id, status, at));
      } catch (error) {
        this.logger.warn(`status of lease ${row.lease_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return changed + (await this.timeOutUnpolled(at)) + (await this.followUnstopped(at));
  }

  /**
   * Allocated leases past the start timeout that the polling above does not ask about: those of
   * pushing adapters whose place orders all succeeded (an agent that accepted the order and never
   * reported the workload running). A place order still retrying is left to its retries and
   * dead letter (docs/operations.md, "Orders that fail for good"), so no lease is failed while
   * its placement is in flight.
   */
  private async timeOutUnpolled(at: Date): Promise<number> {
    const timeout = this.config.placementStartTimeoutSeconds;
    const leaseIds = await this.transactions.run((m) => this.repository.unpolledStartTimeouts(m, at, timeout, POLLED));
    let changed = 0;
    for (const leaseId of leaseIds) {
      try {
        changed += Number(
          await this.timeOut(leaseId, startTimeoutReason(timeout, undefined, 'not reported running'), at),
        );
      } catch (error) {
        this.logger.warn(
          `start timeout of lease ${leaseId}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return changed;
  }

  private async timeOut(leaseId: string, reason: string, at: Date): Promise<boolean> {
    const changed = await this.transactions.run((m) =>
      this.leaseState.fail(m, leaseId, at, reason, true, undefined, { terminate: true }),
    );
    if (changed) {
      this.logger.warn(`lease ${leaseId}: ${reason}; its workload is terminated and its bid reopened`);
      await this.relay.relay();
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
      const lease = await this.leaseState.reportable(manager, leaseId, at);
      if (!lease) return false;
      const outcome = outcomeOfReport(lease, status);
      switch (outcome.kind) {
        case 'started':
          return this.leaseState.markRunning(manager, leaseId, at);
        case 'completed': {
          const started = await this.leaseState.markRunning(manager, leaseId, at);
          const completed = await this.leaseState.complete(manager, leaseId, at, 'workload_ended', status.exitCode);
          return started || completed;
        }
        case 'preempted':
          return this.leaseState.preemptedByNotice(manager, leaseId, at);
        case 'notice_stopped':
          // The adapters give no time of their own for a stop: the market's observation is the stop.
          return this.leaseState.stoppedInNotice(manager, leaseId, at, at);
        case 'failed': {
          const detail =
            status.message ?? (status.exitCode !== undefined ? `exit code ${status.exitCode}` : status.state);
          return this.leaseState.fail(
            manager,
            leaseId,
            at,
            `${outcome.reason}: ${detail}`,
            outcome.reopenBid,
            status.exitCode,
          );
        }
        default:
          return false;
      }
    });
  }

  /**
   * Leases whose terminate was dead-lettered: frees their GPUs once the adapter says the workload
   * is gone, else orders the terminate again when the last stop order is STOP_RETRY_SECONDS old.
   */
  private async followUnstopped(at: Date): Promise<number> {
    const rows = await this.transactions.run((m) =>
      this.repository.unstoppedWorkloads(m, at, this.config.stopRetrySeconds),
    );
    let changed = 0;
    const statuses = await this.statuses(
      rows.map((r) => ({
        providerId: r.provider_id,
        adapter: r.adapter,
        leaseId: r.lease_id,
        handle: r.handle,
        context: { stopRequested: true },
      })),
    );
    for (const row of rows) {
      try {
        const status = statuses.get(`${row.provider_id}/${row.lease_id}`);
        if (!status || status instanceof Error) throw status ?? new Error('the adapter gave no answer');
        if (['stopped', 'completed', 'failed'].includes(status.state)) {
          changed += Number(
            await this.transactions.run((m) => this.leaseState.confirmStopped(m, row.lease_id, at, status.state)),
          );
          this.logger.log(
            `lease ${row.lease_id}: the workload the market failed to stop is gone (${status.state}); its GPUs are free`,
          );
        } else if (row.retry_due) {
          await this.transactions.run((m) =>
            this.leaseState.stopOrders(m, [{ id: row.lease_id, provider_ids: [row.provider_id] }], 'terminate', 0),
          );
          this.logger.warn(
            `lease ${row.lease_id}: its workload still ${status.state} after a failed stop; terminate ordered again`,
          );
        }
      } catch (error) {
        this.logger.warn(`stop of lease ${row.lease_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return changed;
  }

  /**
   * The status of each (provider, lease), keyed `provider/lease`: one query per provider where its
   * adapter answers many at once (Slurm: one `squeue --jobs` list), else one per lease. A
   * provider whose adapter cannot be had, or whose batch query fails, answers each of its
   * leases with that error, so the others still sync.
   */
  private async statuses(
    queries: ReadonlyArray<StatusQuery & { providerId: string; adapter: AdapterKind }>,
  ): Promise<Map<string, WorkloadStatus | Error>> {
    const answers = new Map<string, WorkloadStatus | Error>();
    const byProvider = new Map<string, (typeof queries)[number][]>();
    for (const q of queries) byProvider.set(q.providerId, [...(byProvider.get(q.providerId) ?? []), q]);
    for (const [providerId, group] of byProvider) {
      const key = (leaseId: string) => `${providerId}/${leaseId}`;
      try {
        const adapter = await this.adapters.forProvider(providerId, group[0].adapter);
        if (adapter.statusMany) {
          const many = await adapter.statusMany(
            group.map(({ leaseId, handle, context }) => ({ leaseId, handle, context })),
          );
          for (const q of group)
            answers.set(key(q.leaseId), many.get(q.leaseId) ?? new Error('the adapter gave no answer'));
          continue;
        }
        for (const q of group) {
          try {
            answers.set(key(q.leaseId), await adapter.status(q.leaseId, q.handle, q.context));
          } catch (error) {
            answers.set(key(q.leaseId), error instanceof Error ? error : new Error(String(error)));
          }
        }
      } catch (error) {
        for (const q of group) answers.set(key(q.leaseId), error instanceof Error ? error : new Error(String(error)));
      }
    }
    return answers;
  }
}
