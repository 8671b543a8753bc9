/**
 * When a bid may take part in a round. A bid's window ("4 hours within the next 24") is a
 * promise to the tenant: the market never starts work that could not finish inside it, and a
 * bid whose remaining run time can no longer fit is expired rather than left waiting forever.
 *
 * Times are seconds on one clock: Unix seconds in the service, virtual seconds in the simulator.
 */
export interface BidWindow {
  readonly notBefore: number;
  readonly deadline: number;
}

export type WindowCheck =
  | { readonly eligible: true }
  | { readonly eligible: false; readonly reason: 'not_yet_open' }
  | { readonly eligible: false; readonly reason: 'window_closed' };

export function checkWindow(window: BidWindow | null | undefined, remainingSeconds: number, now: number): WindowCheck {
  if (!window) return { eligible: true };
  // Checked before not_yet_open so that a window too short for its run time is closed at once.
  if (Math.max(now, window.notBefore) + remainingSeconds > window.deadline)
    return { eligible: false, reason: 'window_closed' };
  if (now < window.notBefore) return { eligible: false, reason: 'not_yet_open' };
  return { eligible: true };
}

/** The latest moment the bid can still start and finish inside its window; Infinity without one. */
export function latestStart(window: BidWindow | null | undefined, remainingSeconds: number): number {
  return window ? window.deadline - remainingSeconds : Number.POSITIVE_INFINITY;
}

export interface RequeuableBid {
  readonly preemptible: boolean;
  readonly remainingSeconds: number;
  readonly window: BidWindow | null;
}

export type RequeueOutcome =
  | { readonly state: 'open'; readonly remainingSeconds: number }
  | { readonly state: 'expired'; readonly reason: 'window_closed'; readonly remainingSeconds: number }
  | { readonly state: 'completed'; readonly remainingSeconds: 0 };

export class RequeueError extends Error {
  constructor(readonly code: 'not_preemptible' | 'negative_run_time') {
    super(
      code === 'not_preemptible'
        ? 'a non-preemptible bid cannot be requeued after preemption'
        : 'ran seconds must be >= 0',
    );
  }
}

/**
 * A preempted preemptible bid goes back to `open` with the run time it still needs, until its
 * window can no longer fit that run time. Work is not checkpoint-aware here: the seconds it ran
 * are credited in full, which is what a workload that checkpoints within the notice gets.
 */
export function requeuePreemptedBid(bid: RequeuableBid, ranSeconds: number, now: number): RequeueOutcome {
  if (!bid.preemptible) throw new RequeueError('not_preemptible');
  if (ranSeconds < 0) throw new RequeueError('negative_run_time');
  const remainingSeconds = Math.max(0, bid.remainingSeconds - ranSeconds);
  if (remainingSeconds === 0) return { state: 'completed', remainingSeconds: 0 };
  const check = checkWindow(bid.window, remainingSeconds, now);
  if (!check.eligible && check.reason === 'window_closed')
    return { state: 'expired', reason: 'window_closed', remainingSeconds };
  return { state: 'open', remainingSeconds };
}

export type FailedRequeueOutcome =
  | RequeueOutcome
  | { readonly state: 'failed'; readonly reason: 'too_many_failures'; readonly remainingSeconds: number };

/**
 * A lease that failed for the platform's reasons (its workload vanished, its node failed, an
 * order to it was dead-lettered) is not the tenant's failure: its bid goes back to `open` with the
 * run time it still needs, preemptible or not, until its window can no longer fit that run time.
 * `failures` counts the bid's failed leases, this one included; at `maxFailures` the bid fails
 * instead, so a bid whose placement can never succeed does not loop forever.
 */
export function requeueFailedBid(
  bid: { readonly remainingSeconds: number; readonly window: BidWindow | null },
  ranSeconds: number,
  now: number,
  failures: number,
  maxFailures: number,
): FailedRequeueOutcome {
  if (ranSeconds < 0) throw new RequeueError('negative_run_time');
  const remainingSeconds = Math.max(0, bid.remainingSeconds - ranSeconds);
  if (remainingSeconds === 0) return { state: 'completed', remainingSeconds: 0 };
  if (failures >= maxFailures) return { state: 'failed', reason: 'too_many_failures', remainingSeconds };
  const check = checkWindow(bid.window, remainingSeconds, now);
  if (!check.eligible && check.reason === 'window_closed')
    return { state: 'expired', reason: 'window_closed', remainingSeconds };
  return { state: 'open', remainingSeconds };
}
