import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { LeaseState } from '../../core/market/lease-lifecycle.js';
import { updateReturning } from '../../platform/database/update-returning.js';

/** A lease locked for a change of state, with what its bid needs to go back to the market. */
export interface LockedLeaseRow {
  id: string;
  bid_id: string;
  tenant_id: string;
  state: string;
  preemptible: boolean;
  runtime_seconds: number;
  started_at: Date | null;
  notice_ends_at: Date | null;
  bid_remaining_seconds: number;
  not_before: Date | null;
  deadline: Date | null;
  provider_ids: string[];
}

/** A lease whose workload the market failed to stop, locked. */
export interface StopLeaseRow {
  id: string;
  bid_id: string;
  tenant_id: string;
  state: string;
}

const LEASE_SELECT = `
  SELECT l.id, l.bid_id, l.tenant_id, l.state, l.preemptible, l.runtime_seconds, l.started_at, l.notice_ends_at,
         b.remaining_seconds AS bid_remaining_seconds, b.not_before, b.deadline,
         ARRAY(SELECT DISTINCT ln.provider_id FROM lease_nodes ln WHERE ln.lease_id = l.id) AS provider_ids
    FROM leases l JOIN bids b ON b.id = l.bid_id`;

/** A SQL list of lease states, from the lifecycle's own tables (lease-lifecycle.ts). */
const states = (list: readonly LeaseState[]): string => list.map((s) => `'${s}'`).join(', ');

/**
 * The statements LeaseStateService runs, each inside the caller's transaction (`manager`). Leases
 * are locked with their bids (FOR UPDATE OF l, b) in id order, so two changes never deadlock.
 */
@Injectable()
export class LeaseStateRepository {
  private lock(manager: EntityManager, where: string, params: unknown[]): Promise<LockedLeaseRow[]> {
    return manager.query(`${LEASE_SELECT} WHERE ${where} ORDER BY l.id FOR UPDATE OF l, b`, params);
  }

  /** The lease, locked, if it is allocated (not yet started). */
  lockAllocated(manager: EntityManager, leaseId: string): Promise<LockedLeaseRow[]> {
    return this.lock(manager, `l.id = $1 AND l.state = 'allocated'`, [leaseId]);
  }

  /** The lease, locked, if it is running. */
  lockRunning(manager: EntityManager, leaseId: string): Promise<LockedLeaseRow[]> {
    return this.lock(manager, `l.id = $1 AND l.state = 'running'`, [leaseId]);
  }

  /** The lease, locked, if it is in one of `from`. */
  lockIn(manager: EntityManager, leaseId: string, from: readonly LeaseState[]): Promise<LockedLeaseRow[]> {
    return this.lock(manager, `l.id = $1 AND l.state IN (${states(from)})`, [leaseId]);
  }

  /** The bid's leases in one of `from`, locked. */
  lockBidLeasesIn(manager: EntityManager, bidId: string, from: readonly LeaseState[]): Promise<LockedLeaseRow[]> {
    return this.lock(manager, `l.bid_id = $1 AND l.state IN (${states(from)})`, [bidId]);
  }

  /** Leases with a clock-driven change due by `now` (a notice ended or a run time reached), locked. */
  lockDue(manager: EntityManager, now: Date): Promise<LockedLeaseRow[]> {
    return this.lock(
      manager,
      `(l.state = 'preempting' AND l.notice_ends_at <= $1)
        OR (l.state IN ('running', 'preempting') AND l.started_at + make_interval(secs => l.runtime_seconds) <= $1)`,
      [now],
    );
  }

  /** The lease runs from `at`, protected from preemption for at least `minHoldSeconds` after it. */
  async startRunning(manager: EntityManager, leaseId: string, at: Date, minHoldSeconds: number): Promise<void> {
    await manager.query(
      `UPDATE leases SET state = 'running', started_at = $2::timestamptz, settled_until = $2::timestamptz,
              protected_until = GREATEST(protected_until, $2::timestamptz + make_interval(secs => $3::int)), updated_at = now()
        WHERE id = $1`,
      [leaseId, at, minHoldSeconds],
    );
  }

  async markBidRunning(manager: EntityManager, bidId: string): Promise<void> {
    await manager.query(
      `UPDATE bids SET status = 'running', updated_at = now() WHERE id = $1 AND status = 'allocated'`,
      [bidId],
    );
  }

  async completeBid(manager: EntityManager, bidId: string): Promise<void> {
    await manager.query(
      `UPDATE bids SET status = 'completed', remaining_seconds = 0, updated_at = now() WHERE id = $1`,
      [bidId],
    );
  }

  /** How many of the bid's leases have failed (the one failing now included, once ended). */
  async failedLeaseCount(manager: EntityManager, bidId: string): Promise<number> {
    const [{ failures }]: Array<{ failures: number }> = await manager.query(
      `SELECT count(*)::int AS failures FROM leases WHERE bid_id = $1 AND state = 'failed'`,
      [bidId],
    );
    return failures;
  }

  /** The bid after its lease ended: its status, the run time it still needs and why it lost, if it did. */
  async setBidOutcome(
    manager: EntityManager,
    bidId: string,
    status: string,
    remainingSeconds: number,
    lossReason: string | null,
  ): Promise<void> {
    await manager.query(
      `UPDATE bids SET status = $2, remaining_seconds = $3, last_loss_reason = $4, updated_at = now() WHERE id = $1`,
      [bidId, status, remainingSeconds, lossReason],
    );
  }

  /** The leases end in `state` at `at`. */
  async endLeases(
    manager: EntityManager,
    ids: string[],
    state: string,
    at: Date,
    reason: string,
    exitCode: number | null,
  ): Promise<void> {
    await manager.query(
      `UPDATE leases SET state = $2, ended_at = $3, end_reason = $4, exit_code = $5, updated_at = now() WHERE id = ANY($1::uuid[])`,
      [ids, state, at, reason, exitCode],
    );
  }

  /** The lease, locked on its own row (any state); undefined when there is no such lease. */
  async lockForStop(manager: EntityManager, leaseId: string): Promise<StopLeaseRow | undefined> {
    const [lease]: StopLeaseRow[] = await manager.query(
      `SELECT id, bid_id, tenant_id, state FROM leases WHERE id = $1 FOR UPDATE`,
      [leaseId],
    );
    return lease;
  }

  /** A terminate failed for good: the lease keeps its GPUs until its workload is confirmed gone. */
  async holdUnstopped(manager: EntityManager, leaseId: string, at: Date, message: string): Promise<void> {
    await manager.query(
      `UPDATE leases SET stop_failed_at = COALESCE(stop_failed_at, $2), stop_error = $3, stop_confirmed_at = NULL, updated_at = now() WHERE id = $1`,
      [leaseId, at, message],
    );
  }

  /** The held lease's workload is gone; undefined when the lease was not held (or already confirmed). */
  async confirmStopped(
    manager: EntityManager,
    leaseId: string,
    at: Date,
  ): Promise<{ tenant_id: string; bid_id: string } | undefined> {
    const rows = await updateReturning<{ tenant_id: string; bid_id: string }>(
      manager,
      `UPDATE leases SET stop_confirmed_at = $2, updated_at = now()
        WHERE id = $1 AND stop_failed_at IS NOT NULL AND stop_confirmed_at IS NULL RETURNING tenant_id, bid_id`,
      [leaseId, at],
    );
    return rows[0];
  }
}
