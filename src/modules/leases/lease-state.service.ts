import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { requeueFailedBid, requeuePreemptedBid } from '../../core/market/bid-window.js';
import {
  LEASE_EVENT_FROM,
  LIVE_LEASE_STATES,
  noticeStopEvent,
  transition,
  type Lease,
  type LeaseState,
} from '../../core/market/lease-lifecycle.js';
import type { LiveLeaseState, ReportedLease } from '../../core/market/workload-report.js';
import { toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { LeaseStateRepository, type LockedLeaseRow } from './lease-state.repository.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { MarketEventsRepository, type MarketEvent } from './market-events.repository.js';
import { OrdersRepository, type NewOrder } from '../orders/orders.repository.js';

const seconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** The lifecycle's view of a locked lease row, on a clock of (fractional) Unix seconds. */
function lifecycleLease(row: LockedLeaseRow): Lease {
  const at = (date: Date | null) => (date === null ? null : date.getTime() / 1000);
  return {
    id: row.id,
    bidId: row.bid_id,
    state: row.state as LeaseState,
    preemptible: row.preemptible,
    runtimeSeconds: row.runtime_seconds,
    allocatedAt: 0,
    startedAt: at(row.started_at),
    protectedUntil: null,
    noticeEndsAt: at(row.notice_ends_at),
    endedAt: null,
    endReason: null,
  };
}
/**
 * How long after a notice's grace a report of its workload stopping still counts as the notice's
 * doing: lease sync polls every few seconds, and an agent pushes within its next poll.
 */
const NOTICE_REPORT_SLACK_SECONDS = 120;

const windowOf = (lease: LockedLeaseRow) =>
  lease.deadline
    ? { notBefore: lease.not_before ? seconds(lease.not_before) : 0, deadline: seconds(lease.deadline) }
    : null;

/**
 * Every change of a lease's state after it was allocated: started by its adapter, completed,
 * failed, preempted at the end of its notice. Each method runs inside the caller's transaction
 * and writes the lease, its bid, the ledger up to the change, the orders and the events
 * together, so a crash leaves either all of it or none.
 */
@Injectable()
export class LeaseStateService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerRepository,
    private readonly orders: OrdersRepository,
    private readonly events: MarketEventsRepository,
    private readonly leases: LeaseStateRepository,
  ) {}

  private get feePercent() {
    return toMoney(this.config.marketFeePercent);
  }

  /** The adapter confirmed the workload runs: charging starts now. */
  async markRunning(manager: EntityManager, leaseId: string, at: Date): Promise<boolean> {
    const [lease] = await this.leases.lockAllocated(manager, leaseId);
    if (!lease) return false;
    await this.leases.startRunning(manager, leaseId, at, this.config.minHoldSeconds);
    await this.leases.markBidRunning(manager, lease.bid_id);
    await this.events.add(manager, [
      {
        tenantId: lease.tenant_id,
        type: 'lease.running',
        subjectId: leaseId,
        data: { leaseId, bidId: lease.bid_id, startedAt: at.toISOString() },
      },
    ]);
    return true;
  }

  /** Run time reached or the workload ended by itself. */
  async complete(
    manager: EntityManager,
    leaseId: string,
    at: Date,
    reason: 'runtime_reached' | 'workload_ended',
    exitCode?: number,
  ): Promise<boolean> {
    const [lease] = await this.leases.lockIn(manager, leaseId, LEASE_EVENT_FROM.complete);
    if (!lease) return false;
    await this.end(manager, [lease], at, 'completed', reason, exitCode);
    await this.leases.completeBid(manager, lease.bid_id);
    await this.events.add(manager, [
      {
        tenantId: lease.tenant_id,
        type: 'lease.completed',
        subjectId: leaseId,
        data: { leaseId, bidId: lease.bid_id, reason, exitCode: exitCode ?? null, endedAt: at.toISOString() },
      },
    ]);
    if (reason === 'runtime_reached') await this.stopOrders(manager, [lease], 'terminate', 0);
    return true;
  }

  /**
   * The lease cannot go on (its workload failed, the platform lost it, or an order to it was
   * dead-lettered). Its GPUs are free at once. `reopenBid`: the failure was the platform's, so the
   * bid goes back to open with the run time it still needs (preemptible or not), until its window
   * closes (`expired`, window_closed) or it has failed this way MAX_PLATFORM_FAILURES_PER_BID
   * times (`failed`, too_many_failures); otherwise the bid fails with it (workload_failed).
   *
   * `options.endedAt`: when the lease ended, if before `at` (a fenced node's lease ends at its last
   * heartbeat: charged up to then, and the bid owes the run time after it). `options.terminate`:
   * also order its workload stopped, for failures where it may still exist on the provider (its
   * node was out of reach, its start timed out) and must not hold the GPUs it was given.
   */
  async fail(
    manager: EntityManager,
    leaseId: string,
    at: Date,
    reason: string,
    reopenBid: boolean,
    exitCode?: number,
    options: { endedAt?: Date; terminate?: boolean } = {},
  ): Promise<boolean> {
    const [lease] = await this.leases.lockIn(manager, leaseId, LEASE_EVENT_FROM.fail);
    if (!lease) return false;
    const endedAt = options.endedAt && options.endedAt < at ? options.endedAt : at;
    await this.end(manager, [lease], endedAt, 'failed', reason, exitCode);
    if (options.terminate) await this.stopOrders(manager, [lease], 'terminate', 0);
    const ran = lease.started_at ? Math.max(0, seconds(endedAt) - seconds(lease.started_at)) : 0;
    let outcome: { state: string; remainingSeconds: number; lossReason: string | null };
    if (reopenBid) {
      const failures = await this.leases.failedLeaseCount(manager, lease.bid_id);
      const next = requeueFailedBid(
        { remainingSeconds: lease.bid_remaining_seconds, window: windowOf(lease) },
        ran,
        seconds(at),
        failures,
        this.config.maxPlatformFailuresPerBid,
      );
      outcome = {
        state: next.state,
        remainingSeconds: next.remainingSeconds,
        lossReason: 'reason' in next ? next.reason : null,
      };
    } else {
      outcome = {
        state: 'failed',
        remainingSeconds: Math.max(0, lease.bid_remaining_seconds - ran),
        lossReason: 'workload_failed',
      };
    }
    await this.leases.setBidOutcome(manager, lease.bid_id, outcome.state, outcome.remainingSeconds, outcome.lossReason);
    const events: MarketEvent[] = [
      {
        tenantId: lease.tenant_id,
        type: 'lease.failed',
        subjectId: leaseId,
        data: {
          leaseId,
          bidId: lease.bid_id,
          reason,
          exitCode: exitCode ?? null,
          endedAt: endedAt.toISOString(),
          bidReopened: outcome.state === 'open',
          bidStatus: outcome.state,
          bidReason: outcome.lossReason,
        },
      },
    ];
    if (outcome.state === 'expired') events.push(windowClosed(lease));
    await this.events.add(manager, events);
    return true;
  }

  /**
   * A live lease as a workload report made at `at` sees it: its state, and whether its notice's
   * SIGTERM went out within the platform's grace plus NOTICE_REPORT_SLACK_SECONDS of `at`.
   */
  async reportable(manager: EntityManager, leaseId: string, at: Date): Promise<ReportedLease | null> {
    const [lease] = await this.leases.lockIn(manager, leaseId, LIVE_LEASE_STATES);
    if (!lease) return null;
    const noticedRecently = await this.orders.noticeGraceOpen(manager, leaseId, at, NOTICE_REPORT_SLACK_SECONDS);
    return { state: lease.state as LiveLeaseState, noticedRecently };
  }

  /**
   * An order to stop the lease's workload failed for good. A `preempt` (the notice's SIGTERM)
   * leaves the hard stop at the notice's end to its `terminate`. A failed `terminate` leaves a
   * workload the market could not stop: the lease has ended (billing stopped at its end), but its
   * GPUs stay held until the adapter confirms the workload is gone (lease sync re-sends the
   * terminate meanwhile), and the tenant and the operator are told. A lease that won its place
   * back and runs again needed no stop.
   */
  async stopFailed(
    manager: EntityManager,
    leaseId: string,
    type: 'preempt' | 'terminate',
    message: string,
    at: Date,
  ): Promise<'held' | 'notified' | 'none'> {
    const lease = await this.leases.lockForStop(manager, leaseId);
    if (!lease || lease.state === 'running') return 'none';
    const held = type === 'terminate';
    if (held) await this.leases.holdUnstopped(manager, leaseId, at, message);
    await this.events.add(manager, [
      {
        tenantId: lease.tenant_id,
        type: 'lease.stop_failed',
        subjectId: leaseId,
        data: { leaseId, bidId: lease.bid_id, order: type, error: message, gpusHeld: held, at: at.toISOString() },
      },
    ]);
    return held ? 'held' : 'notified';
  }

  /** The adapter says the workload the market failed to stop is gone: its GPUs are free again. */
  async confirmStopped(manager: EntityManager, leaseId: string, at: Date, how: string): Promise<boolean> {
    const row = await this.leases.confirmStopped(manager, leaseId, at);
    if (!row) return false;
    await this.events.add(manager, [
      {
        tenantId: row.tenant_id,
        type: 'lease.stop_confirmed',
        subjectId: leaseId,
        data: { leaseId, bidId: row.bid_id, status: how, at: at.toISOString() },
      },
    ]);
    return true;
  }

  /**
   * Cancellation by the tenant: the lease ends `cancelled` now (charged up to now) and its
   * workload gets a terminate order. No event: the tenant asked, and the API answered.
   */
  async cancel(manager: EntityManager, bidId: string, at: Date): Promise<void> {
    const leases = await this.leases.lockBidLeasesIn(manager, bidId, LEASE_EVENT_FROM.cancel);
    if (leases.length === 0) return;
    await this.end(manager, leases, at, 'cancelled', 'cancelled');
    await this.stopOrders(manager, leases, 'terminate', 0);
  }

  /** Clock-driven changes due by `now`: notices that ended, run times reached. */
  async applyDue(manager: EntityManager, now: Date): Promise<{ preempted: number; completed: number }> {
    const due = await this.leases.lockDue(manager, now);
    let preempted = 0;
    let completed = 0;
    for (const lease of due) {
      const runtimeEnd = new Date(lease.started_at!.getTime() + lease.runtime_seconds * 1000);
      if (runtimeEnd <= now && (!lease.notice_ends_at || runtimeEnd <= lease.notice_ends_at)) {
        completed += Number(await this.complete(manager, lease.id, runtimeEnd, 'runtime_reached'));
        continue;
      }
      await this.endPreempted(manager, lease, lease.notice_ends_at!, now, 'preempted');
      preempted++;
    }
    return { preempted, completed };
  }

  /**
   * The provider confirmed that the workload of a lease in its notice stopped, at `stoppedAt`
   * (what it observed, else when the market saw its status): billing ends at the first of the
   * stop and the notice's end, or at its run time's end if that came first (completed), and the
   * lease ends there, preempted, its bid back in the market with the run time it still needs.
   * Ledger entries a round already wrote past that moment stay: nothing is reversed.
   */
  async stoppedInNotice(manager: EntityManager, leaseId: string, stoppedAt: Date, now: Date): Promise<boolean> {
    const [lease] = await this.leases.lockIn(manager, leaseId, LEASE_EVENT_FROM.stopped);
    if (!lease) return false;
    const current = lifecycleLease(lease);
    const event = noticeStopEvent(current, stoppedAt.getTime() / 1000);
    if (!event) return false;
    if (event.type === 'complete') return this.complete(manager, leaseId, new Date(event.at * 1000), 'runtime_reached');
    const next = transition(current, event);
    if (!next.ok) return false;
    await this.endPreempted(
      manager,
      lease,
      new Date(next.lease.endedAt! * 1000),
      now,
      next.lease.endReason!,
      stoppedAt,
    );
    return true;
  }

  /**
   * A lease that won its place back after its notice's SIGTERM went out, and whose workload then
   * stopped on it: preempted after all, at the moment the stop was seen, as if its notice had
   * ended then.
   */
  async preemptedByNotice(manager: EntityManager, leaseId: string, at: Date): Promise<boolean> {
    const [lease] = await this.leases.lockRunning(manager, leaseId);
    if (!lease) return false;
    await this.endPreempted(manager, lease, at, at, 'stopped_on_notice', at);
    return true;
  }

  /**
   * Ends a lease as preempted at `endedAt` and sends its bid back with the run time it still needs.
   * `workloadStoppedAt`: when its workload was confirmed stopped; null when the notice's end came first.
   */
  private async endPreempted(
    manager: EntityManager,
    lease: LockedLeaseRow,
    endedAt: Date,
    now: Date,
    reason: string,
    workloadStoppedAt: Date | null = null,
  ): Promise<void> {
    await this.end(manager, [lease], endedAt, 'preempted', reason);
    await this.stopOrders(manager, [lease], 'terminate', 0);
    const outcome = requeuePreemptedBid(
      {
        preemptible: lease.preemptible,
        remainingSeconds: lease.bid_remaining_seconds,
        window: windowOf(lease),
      },
      Math.max(0, seconds(endedAt) - seconds(lease.started_at!)),
      seconds(now),
    );
    await this.leases.setBidOutcome(
      manager,
      lease.bid_id,
      outcome.state,
      outcome.remainingSeconds,
      outcome.state === 'expired' ? 'window_closed' : null,
    );
    const events: MarketEvent[] = [
      {
        tenantId: lease.tenant_id,
        type: 'lease.preempted',
        subjectId: lease.id,
        data: {
          leaseId: lease.id,
          bidId: lease.bid_id,
          reason,
          endedAt: endedAt.toISOString(),
          workloadStoppedAt: workloadStoppedAt?.toISOString() ?? null,
          bidStatus: outcome.state,
          remainingSeconds: outcome.remainingSeconds,
        },
      },
    ];
    if (outcome.state === 'expired') events.push(windowClosed(lease));
    await this.events.add(manager, events);
  }

  private async end(
    manager: EntityManager,
    leases: LockedLeaseRow[],
    at: Date,
    state: string,
    reason: string,
    exitCode?: number,
  ): Promise<void> {
    const ids = leases.map((l) => l.id);
    await this.ledger.settle(manager, ids, at, this.feePercent, null);
    await this.leases.endLeases(manager, ids, state, at, reason, exitCode ?? null);
  }

  async stopOrders<L extends { id: string; provider_ids: string[] }>(
    manager: EntityManager,
    leases: readonly L[],
    type: 'preempt' | 'terminate',
    graceSeconds: number,
    notBefore?: (lease: L) => Date,
  ): Promise<void> {
    const orders: NewOrder[] = leases.flatMap((l) =>
      l.provider_ids.map((providerId) => ({
        leaseId: l.id,
        providerId,
        type,
        graceSeconds,
        notBefore: notBefore?.(l),
      })),
    );
    await this.orders.create(manager, orders);
  }
}

/** The event of a bid whose window closed while its lease ended: it goes back to no market. */
function windowClosed(lease: { tenant_id: string; bid_id: string }): MarketEvent {
  return {
    tenantId: lease.tenant_id,
    type: 'bid.expired',
    subjectId: lease.bid_id,
    data: { bidId: lease.bid_id, reason: 'window_closed' },
  };
}
