import {
  newLease,
  transition,
  type Lease,
  type LeaseEvent,
  type LeaseTimingParams,
  type LeaseTransitionErrorCode,
} from './lease-lifecycle.js';
import type { MarketEventType } from './market-events.js';

/**
 * A round's commit as one pure step, shared by the service (which loads the state under row
 * locks and writes the change set in one transaction) and the simulator (which applies it in
 * memory). The world may have moved while the round cleared: a lease ended, a bid was
 * cancelled, a node was fenced, GPUs were taken. So each decision is checked against the state
 * as it is at commit and dropped, never forced, when it no longer holds; this is the one place
 * that checks that a placement still fits. Every lease state change goes through the
 * lifecycle's `transition`, so a notice to a non-preemptible or protected lease is refused here
 * the same way as everywhere else.
 *
 * Decisions are taken in the order the service always wrote them: notices (which release
 * their GPUs to the round's new leases), then win-backs (which take theirs again, where still
 * free), then new leases, in the order the round placed them.
 */

export interface CommitShare {
  readonly nodeId: string;
  readonly gpus: number;
}

/** A live lease a decision names, as it is now (locked). */
export interface CommitLease {
  readonly lease: Lease;
  readonly tenantId: string;
  readonly shares: readonly CommitShare[];
  /** The providers whose nodes it runs on: each gets its own stop orders. */
  readonly providers: readonly string[];
}

export interface CommitNode {
  /** GPUs leases may hold: the node's GPUs less any a workload the market failed to stop still holds. */
  readonly capacity: number;
  /** Whether it takes new leases (a won-back lease keeps its place on a node that does not). */
  readonly active: boolean;
}

export interface CommitState {
  /** The live leases the decisions name; one that has ended since the round cleared is absent. */
  readonly leases: ReadonlyMap<string, CommitLease>;
  /** The nodes the decisions touch; a node that is gone is absent. */
  readonly nodes: ReadonlyMap<string, CommitNode>;
  /** GPUs per node held by allocated and running leases now (a lease in its notice has handed its GPUs on). */
  readonly used: ReadonlyMap<string, number>;
  /** Of the bids the round placed, those still open, with their tenant. */
  readonly openBids: ReadonlyMap<string, string>;
  /** Bids whose window closed before they could run, still open now. */
  readonly expiringBids: readonly { readonly id: string; readonly tenantId: string }[];
}

/** A lease the round decided to create. */
export interface ProposedLease {
  readonly id: string;
  readonly bidId: string;
  readonly gpuModel: string;
  readonly preemptible: boolean;
  readonly runtimeSeconds: number;
  /** When its GPUs are free (after the notices of the leases it displaces). */
  readonly startAfter: number;
  readonly protectedUntil?: number | null;
  readonly shares: readonly (CommitShare & { readonly provider?: string })[];
}

export interface RoundDecisions<P extends ProposedLease> {
  readonly notices: readonly { readonly leaseId: string; readonly noticeEndsAt: number }[];
  readonly winBacks: readonly string[];
  readonly newLeases: readonly P[];
}

export interface LeaseChange {
  readonly leaseId: string;
  readonly event: LeaseEvent;
  /** The lease after the event: state `preempting` with its noticeEndsAt, or `running` again. */
  readonly lease: Lease;
  readonly tenantId: string;
  readonly providers: readonly string[];
}

/** Why a decision was not carried out: the lifecycle refused it, or the state at commit no longer allows it. */
export type SkipReason =
  LeaseTransitionErrorCode | 'lease_gone' | 'bid_not_open' | 'node_gone' | 'node_not_active' | 'no_longer_fits';

export interface CommitOrder {
  readonly leaseId: string;
  readonly providerId: string;
  readonly type: 'place' | 'preempt' | 'terminate';
  readonly graceSeconds?: number;
  /** Seconds on the round's clock; absent: due now. */
  readonly notBefore?: number;
}

export interface CommitEvent {
  readonly tenantId: string;
  readonly type: MarketEventType;
  readonly subjectId: string;
  readonly data: Record<string, unknown>;
}

export interface ChangeSet<P extends ProposedLease> {
  readonly expiredBids: readonly { readonly id: string; readonly tenantId: string }[];
  /** Notices given, in decision order. */
  readonly notices: readonly LeaseChange[];
  /** Leases back to running from their notice; their pending stop orders are withdrawn. */
  readonly winBacks: readonly LeaseChange[];
  /** Leases to create, each with its lifecycle lease (allocated); its bid becomes allocated. */
  readonly newLeases: readonly { readonly proposal: P; readonly lease: Lease; readonly tenantId: string }[];
  readonly orders: readonly CommitOrder[];
  readonly events: readonly CommitEvent[];
  /** Decisions the state no longer allows. */
  readonly skippedTransitions: readonly {
    readonly leaseId: string;
    readonly event: LeaseEvent['type'];
    readonly reason: SkipReason;
  }[];
  readonly droppedLeases: readonly { readonly proposal: P; readonly reason: SkipReason }[];
  /** GPUs per node held by allocated and running leases after the commit. */
  readonly used: ReadonlyMap<string, number>;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** `now`: the round's time, in seconds on the clock of the leases (Unix seconds in the service). */
export function commitRound<P extends ProposedLease>(
  state: CommitState,
  decisions: RoundDecisions<P>,
  now: number,
  params: LeaseTimingParams,
): ChangeSet<P> {
  const used = new Map(state.used);
  const events: CommitEvent[] = [];
  const skippedTransitions: Array<ChangeSet<P>['skippedTransitions'][number]> = [];

  for (const bid of state.expiringBids)
    events.push({
      tenantId: bid.tenantId,
      type: 'bid.expired',
      subjectId: bid.id,
      data: { bidId: bid.id, reason: 'window_closed' },
    });

  const fitsAt = (shares: readonly CommitShare[], needActive: boolean): SkipReason | null => {
    for (const s of shares) {
      const node = state.nodes.get(s.nodeId);
      if (node === undefined) return 'node_gone';
      if (needActive && !node.active) return 'node_not_active';
      if ((used.get(s.nodeId) ?? 0) + s.gpus > node.capacity) return 'no_longer_fits';
    }
    return null;
  };
  const take = (shares: readonly CommitShare[], sign: 1 | -1) => {
    for (const s of shares) used.set(s.nodeId, (used.get(s.nodeId) ?? 0) + sign * s.gpus);
  };
  // Each lease as the decisions so far left it: a lease named twice meets its own first change.
  const leaseNow = new Map<string, Lease>();
  const apply = (leaseId: string, event: LeaseEvent): LeaseChange | null => {
    const current = state.leases.get(leaseId);
    if (!current) {
      skippedTransitions.push({ leaseId, event: event.type, reason: 'lease_gone' });
      return null;
    }
    const result = transition(leaseNow.get(leaseId) ?? current.lease, event, params);
    if (!result.ok) {
      skippedTransitions.push({ leaseId, event: event.type, reason: result.error.code });
      return null;
    }
    leaseNow.set(leaseId, result.lease);
    return { leaseId, event, lease: result.lease, tenantId: current.tenantId, providers: current.providers };
  };

  const notices: LeaseChange[] = [];
  for (const notice of decisions.notices) {
    // The notice counts from the moment the round decided it, which the decision carries as its end.
    const change = apply(notice.leaseId, { type: 'preempt', at: notice.noticeEndsAt - params.preemptionNoticeSeconds });
    if (!change) continue;
    take(state.leases.get(notice.leaseId)!.shares, -1);
    notices.push(change);
  }

  const winBacks: LeaseChange[] = [];
  for (const leaseId of decisions.winBacks) {
    const current = state.leases.get(leaseId);
    // Its GPUs may have gone to a newer lease meanwhile; a node that stopped taking new work still keeps it.
    const misfit = current ? fitsAt(current.shares, false) : null;
    if (misfit) {
      skippedTransitions.push({ leaseId, event: 'win_back', reason: misfit });
      continue;
    }
    const change = apply(leaseId, { type: 'win_back', at: now });
    if (!change) continue;
    take(current!.shares, 1);
    winBacks.push(change);
  }

  const newLeases: Array<ChangeSet<P>['newLeases'][number]> = [];
  const droppedLeases: Array<ChangeSet<P>['droppedLeases'][number]> = [];
  for (const proposal of decisions.newLeases) {
    const tenantId = state.openBids.get(proposal.bidId);
    const reason = tenantId === undefined ? 'bid_not_open' : fitsAt(proposal.shares, true);
    if (reason) {
      droppedLeases.push({ proposal, reason });
      continue;
    }
    take(proposal.shares, 1);
    const lease = newLease({
      id: proposal.id,
      bidId: proposal.bidId,
      preemptible: proposal.preemptible,
      runtimeSeconds: proposal.runtimeSeconds,
      allocatedAt: now,
      protectedUntil: proposal.protectedUntil,
    });
    newLeases.push({ proposal, lease, tenantId: tenantId! });
  }

  for (const change of notices)
    events.push({
      tenantId: change.tenantId,
      type: 'lease.preemption_notice',
      subjectId: change.leaseId,
      data: {
        leaseId: change.leaseId,
        bidId: change.lease.bidId,
        stopAt: iso(change.lease.noticeEndsAt!),
        noticeSeconds: params.preemptionNoticeSeconds,
      },
    });
  for (const change of winBacks)
    events.push({
      tenantId: change.tenantId,
      type: 'lease.running',
      subjectId: change.leaseId,
      data: { leaseId: change.leaseId, bidId: change.lease.bidId, wonBack: true },
    });
  for (const { proposal, tenantId } of newLeases)
    events.push({
      tenantId,
      type: 'bid.allocated',
      subjectId: proposal.bidId,
      data: {
        bidId: proposal.bidId,
        leaseId: proposal.id,
        gpuModel: proposal.gpuModel,
        gpus: proposal.shares.reduce((total, s) => total + s.gpus, 0),
        nodes: proposal.shares.map((s) => ({ node: s.nodeId, gpus: s.gpus })),
        startAfter: iso(proposal.startAfter),
      },
    });

  return {
    expiredBids: state.expiringBids,
    notices,
    winBacks,
    newLeases,
    orders: commitOrders(notices, newLeases, params),
    events,
    skippedTransitions,
    droppedLeases,
    used,
  };
}

/**
 * A notice orders each provider to stop the workload with the notice as its grace, and a hard
 * stop at the notice's end in case the adapter's own timer is lost; a new lease orders each of
 * its providers (in share order) to place it once its GPUs are free.
 */
function commitOrders<P extends ProposedLease>(
  notices: readonly LeaseChange[],
  newLeases: ChangeSet<P>['newLeases'],
  params: LeaseTimingParams,
): CommitOrder[] {
  const stops = (type: 'preempt' | 'terminate') =>
    notices.flatMap((change) =>
      change.providers.map((providerId): CommitOrder =>
        type === 'preempt'
          ? { leaseId: change.leaseId, providerId, type, graceSeconds: params.preemptionNoticeSeconds }
          : { leaseId: change.leaseId, providerId, type, graceSeconds: 0, notBefore: change.lease.noticeEndsAt! },
      ),
    );
  const places = newLeases.flatMap(({ proposal }) =>
    [...new Set(proposal.shares.map((s) => s.provider).filter((p): p is string => p !== undefined))].map(
      (providerId): CommitOrder => ({
        leaseId: proposal.id,
        providerId,
        type: 'place',
        notBefore: proposal.startAfter,
      }),
    ),
  );
  return [...stops('preempt'), ...stops('terminate'), ...places];
}
