/**
 * The life of a lease as pure transitions: the market loop and the simulator both apply
 * events through `transition`, so an illegal move (completing a failed lease, preempting a
 * protected one) is refused the same way everywhere, as data rather than an exception.
 *
 *   allocated -> running -> completed
 *                running -> preempting -> preempted   (the notice ended, or its workload stopped first)
 *                           preempting -> running     (won its place back before the notice ended)
 *   any live state (allocated, running, preempting) -> cancelled (the tenant cancelled its bid)
 *   any live state (allocated, running, preempting) -> failed
 *
 * `completed`, `cancelled`, `preempted` and `failed` are terminal: no event leaves them. The
 * service's SQL and the API's enum take their state lists from the constants below.
 *
 * Times are seconds on one clock (Unix seconds in the service, virtual seconds in the simulator).
 */
export const LEASE_STATES = [
  'allocated',
  'running',
  'preempting',
  'completed',
  'cancelled',
  'preempted',
  'failed',
] as const;
export type LeaseState = (typeof LEASE_STATES)[number];
export const LIVE_LEASE_STATES: readonly LeaseState[] = ['allocated', 'running', 'preempting'];
/** States a lease never leaves: it has ended, and is billed up to its endedAt at most. */
export const ENDED_LEASE_STATES: readonly LeaseState[] = ['completed', 'cancelled', 'preempted', 'failed'];

export interface LeaseTimingParams {
  /** A started lease cannot be displaced before start + minHoldSeconds. */
  readonly minHoldSeconds: number;
  /** Time between a preemption notice and the stop. */
  readonly preemptionNoticeSeconds: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTimingParams = { minHoldSeconds: 600, preemptionNoticeSeconds: 120 };

export interface Lease {
  readonly id: string;
  readonly bidId: string;
  readonly state: LeaseState;
  readonly preemptible: boolean;
  /** Run time this lease has to deliver (the bid's remaining run time when it won). */
  readonly runtimeSeconds: number;
  readonly allocatedAt: number;
  readonly startedAt: number | null;
  readonly protectedUntil: number | null;
  readonly noticeEndsAt: number | null;
  readonly endedAt: number | null;
  readonly endReason: LeaseEndReason | null;
}

/**
 * `stopped_on_notice`: preempted when its workload stopped on the notice's SIGTERM, before the
 * notice ended (billed to that stop). `cancelled`: the tenant cancelled the bid.
 */
export type LeaseEndReason =
  'runtime_reached' | 'workload_ended' | 'preempted' | 'stopped_on_notice' | 'cancelled' | string;

export type LeaseEvent =
  | { readonly type: 'start'; readonly at: number }
  | { readonly type: 'complete'; readonly at: number; readonly reason?: 'runtime_reached' | 'workload_ended' }
  | { readonly type: 'preempt'; readonly at: number }
  | { readonly type: 'notice_elapsed'; readonly at: number }
  /**
   * Its provider confirmed that the workload stopped (stopped, failed or completed after the
   * notice's SIGTERM), at `at`: the time the provider observed, else the time the market did.
   */
  | { readonly type: 'stopped'; readonly at: number }
  | { readonly type: 'win_back'; readonly at: number }
  | { readonly type: 'cancel'; readonly at: number }
  | { readonly type: 'fail'; readonly at: number; readonly reason: string };

export type LeaseTransitionErrorCode = 'illegal_transition' | 'not_preemptible' | 'protected' | 'notice_not_over';

export interface LeaseTransitionError {
  readonly code: LeaseTransitionErrorCode;
  readonly from: LeaseState;
  readonly event: LeaseEvent['type'];
  readonly message: string;
}

export type TransitionResult =
  { readonly ok: true; readonly lease: Lease } | { readonly ok: false; readonly error: LeaseTransitionError };

export function newLease(input: {
  id: string;
  bidId: string;
  preemptible: boolean;
  runtimeSeconds: number;
  allocatedAt: number;
  /** Protection promised when it was allocated (the round's startAfter + minHoldSeconds); null if none. */
  protectedUntil?: number | null;
}): Lease {
  const { protectedUntil = null, ...rest } = input;
  return {
    ...rest,
    state: 'allocated',
    startedAt: null,
    protectedUntil,
    noticeEndsAt: null,
    endedAt: null,
    endReason: null,
  };
}

/** The states each event may leave: the one table of legal transitions. */
export const LEASE_EVENT_FROM: Readonly<Record<LeaseEvent['type'], readonly LeaseState[]>> = {
  start: ['allocated'],
  complete: ['running', 'preempting'],
  preempt: ['running'],
  notice_elapsed: ['preempting'],
  stopped: ['preempting'],
  win_back: ['preempting'],
  cancel: LIVE_LEASE_STATES,
  fail: LIVE_LEASE_STATES,
};
const ALLOWED = LEASE_EVENT_FROM;

function refuse(lease: Lease, event: LeaseEvent, code: LeaseTransitionErrorCode, message: string): TransitionResult {
  return { ok: false, error: { code, from: lease.state, event: event.type, message } };
}

export function transition(
  lease: Lease,
  event: LeaseEvent,
  params: LeaseTimingParams = DEFAULT_LEASE_TIMING,
): TransitionResult {
  if (!ALLOWED[event.type].includes(lease.state))
    return refuse(lease, event, 'illegal_transition', `cannot ${event.type} a lease that is ${lease.state}`);
  switch (event.type) {
    case 'start':
      // Never shortens a protection promised at allocation (the service's GREATEST(protected_until, start + hold)).
      return {
        ok: true,
        lease: {
          ...lease,
          state: 'running',
          startedAt: event.at,
          protectedUntil: Math.max(lease.protectedUntil ?? -Infinity, event.at + params.minHoldSeconds),
        },
      };
    case 'complete':
      return end(lease, 'completed', event.at, event.reason ?? 'runtime_reached');
    case 'preempt':
      if (!lease.preemptible) return refuse(lease, event, 'not_preemptible', 'the lease is not preemptible');
      if (lease.protectedUntil !== null && event.at < lease.protectedUntil)
        return refuse(lease, event, 'protected', `the lease is protected until ${lease.protectedUntil}`);
      return {
        ok: true,
        lease: { ...lease, state: 'preempting', noticeEndsAt: event.at + params.preemptionNoticeSeconds },
      };
    case 'notice_elapsed':
      if (lease.noticeEndsAt !== null && event.at < lease.noticeEndsAt)
        return refuse(lease, event, 'notice_not_over', `the notice runs until ${lease.noticeEndsAt}`);
      return end(lease, 'preempted', event.at, 'preempted');
    case 'stopped': {
      // Billed until the workload stopped or the notice ended, whichever came first.
      const ends = lease.noticeEndsAt ?? event.at;
      return event.at < ends
        ? end(lease, 'preempted', event.at, 'stopped_on_notice')
        : end(lease, 'preempted', ends, 'preempted');
    }
    case 'cancel':
      return end(lease, 'cancelled', event.at, 'cancelled');
    case 'win_back':
      return { ok: true, lease: { ...lease, state: 'running', noticeEndsAt: null } };
    case 'fail':
      return end(lease, 'failed', event.at, event.reason);
  }
}

function end(lease: Lease, state: LeaseState, at: number, reason: LeaseEndReason): TransitionResult {
  return { ok: true, lease: { ...lease, state, endedAt: at, endReason: reason } };
}

/** Seconds the lease has run by `now` (a lease runs without a break from start to its end). */
export function ranSeconds(lease: Lease, now: number): number {
  if (lease.startedAt === null) return 0;
  const until = lease.endedAt ?? now;
  return Math.max(0, Math.min(until, now) - lease.startedAt);
}

/** The moment its run time is reached; null until it starts. */
export function runtimeEndsAt(lease: Lease): number | null {
  return lease.startedAt === null ? null : lease.startedAt + lease.runtimeSeconds;
}

/**
 * The clock-driven event that is due at `now`, if any: completion when the run time is
 * reached (which wins over a notice ending at the same moment: the work is done), else the
 * end of a preemption notice.
 */
export function dueEvent(lease: Lease, now: number): LeaseEvent | null {
  const ends = runtimeEndsAt(lease);
  if ((lease.state === 'running' || lease.state === 'preempting') && ends !== null && ends <= now)
    return { type: 'complete', at: ends, reason: 'runtime_reached' };
  if (lease.state === 'preempting' && lease.noticeEndsAt !== null && lease.noticeEndsAt <= now)
    return { type: 'notice_elapsed', at: lease.noticeEndsAt };
  return null;
}

/**
 * What a confirmed stop of a lease in its notice does, the stop seen at `stoppedAt`: the lease
 * ends at the first of its run time's end (completed: the work was done), the stop, and the
 * notice's end. A stop confirmed after the notice ended changes nothing that the notice's end
 * did not (it ends there). Null for a lease not in its notice.
 */
export function noticeStopEvent(lease: Lease, stoppedAt: number): LeaseEvent | null {
  if (lease.state !== 'preempting') return null;
  const runtimeEnd = runtimeEndsAt(lease);
  const noticeEnd = lease.noticeEndsAt ?? stoppedAt;
  if (runtimeEnd !== null && runtimeEnd <= Math.min(stoppedAt, noticeEnd))
    return { type: 'complete', at: runtimeEnd, reason: 'runtime_reached' };
  return stoppedAt < noticeEnd ? { type: 'stopped', at: stoppedAt } : { type: 'notice_elapsed', at: noticeEnd };
}
