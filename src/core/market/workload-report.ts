/**
 * What a report of a lease's workload (an adapter's status, an agent's push) does to the lease.
 * Who failed decides what the bid gets: a workload that exited non-zero is the tenant's failure
 * and fails the bid; a workload the platform lost (vanished, evicted, its node failed, stopped by
 * someone other than the market) is not, and the bid is reopened. What the market itself is
 * doing to the lease comes from its own records, never from an adapter's memory: a lease in its
 * notice, or one the market has ordered stopped, ends by the notice or the stop, so whatever its
 * workload does meanwhile changes only when it stops: a lease in its notice whose workload
 * stopped is billed no further than the stop (lease-lifecycle.ts noticeStopEvent).
 */
export type LiveLeaseState = 'allocated' | 'running' | 'preempting';

export interface WorkloadReport {
  readonly state: 'pending' | 'running' | 'completed' | 'failed' | 'stopped' | 'unknown';
  readonly exitCode?: number;
  /** For `failed`: the tenant's workload or the platform (absent: workload iff an exit code). */
  readonly cause?: 'workload' | 'platform';
}

export type ReportOutcome =
  | { readonly kind: 'none' }
  /** The workload runs: charging starts (an allocated lease only). */
  | { readonly kind: 'started' }
  /** The workload ended by itself with exit code 0: the lease and its bid complete. */
  | { readonly kind: 'completed' }
  /**
   * The workload stopped on the market's own preemption notice after the lease won its place
   * back: the lease ends as preempted, as it would have at the notice's end, and the bid goes
   * back to the market with the run time it still needs.
   */
  | { readonly kind: 'preempted' }
  /**
   * The workload of a lease in its notice stopped (on the notice's SIGTERM, or killed, or gone):
   * the lease ends preempted at the stop, or at the notice's end if that came first, and is
   * billed to then (docs/finance.md, "Preemption notices").
   */
  | { readonly kind: 'notice_stopped' }
  /** The lease fails; `reopenBid` when the platform, not the tenant's workload, failed. */
  | {
      readonly kind: 'failed';
      readonly reopenBid: boolean;
      readonly reason: 'workload_failed' | 'platform_failed' | 'workload_stopped';
    };

export interface ReportedLease {
  readonly state: LiveLeaseState;
  /**
   * The lease's preemption notice (its SIGTERM) went out recently enough that the platform's
   * grace, plus the time a report takes to arrive, has not passed: a running lease with one has
   * won its place back after the notice, and its workload may still stop on it.
   */
  readonly noticedRecently: boolean;
}

export function outcomeOfReport(lease: ReportedLease, report: WorkloadReport): ReportOutcome {
  switch (report.state) {
    case 'running':
      return lease.state === 'allocated' ? { kind: 'started' } : { kind: 'none' };
    case 'completed':
      // A workload short enough to end between two polls was never seen running; it completes.
      return { kind: 'completed' };
    case 'failed':
    case 'stopped': {
      // In its notice the lease is preempted whatever its workload does (the bid reopened); a
      // workload that exits on its SIGTERM, even non-zero, or vanishes after it, ends it early.
      if (lease.state === 'preempting') return { kind: 'notice_stopped' };
      // A lease that won its place back after its notice's SIGTERM went out: a workload that
      // stops on it, or is killed at the grace's end, has been preempted, by the market.
      if (lease.state === 'running' && lease.noticedRecently) return { kind: 'preempted' };
      // Stopped by someone other than the market: not the tenant's doing.
      if (report.state === 'stopped') return { kind: 'failed', reopenBid: true, reason: 'workload_stopped' };
      const cause = report.cause ?? (report.exitCode !== undefined ? 'workload' : 'platform');
      return cause === 'workload'
        ? { kind: 'failed', reopenBid: false, reason: 'workload_failed' }
        : { kind: 'failed', reopenBid: true, reason: 'platform_failed' };
    }
    default:
      return { kind: 'none' };
  }
}
