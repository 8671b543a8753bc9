/**
 * When a failed webhook delivery is tried again, when it is given up, and when an endpoint has
 * failed long enough to be disabled. Pure: the clock and the random source are arguments.
 */

export interface RetryPolicy {
  /** Delay after the first failure; doubles with each further failure. */
  readonly baseMs: number;
  /** No delay is longer than this (before jitter). */
  readonly maxMs: number;
  /** Counted from the delivery's creation: no attempt is scheduled after it. */
  readonly windowMs: number;
}

export interface DisablePolicy {
  /** Failed attempts in a row, across the endpoint's deliveries ... */
  readonly afterFailures: number;
  /** ... over at least this long. Both must hold: a burst of failures alone is not "sustained". */
  readonly afterMs: number;
}

/** Spread of the jitter around the exponential delay: 0.25 gives [0.75, 1.25) of it. */
export const JITTER = 0.25;

/**
 * The delay before the next attempt after `failedAttempts` failures (1 after the first): capped
 * exponential, multiplied by a jitter factor so that the deliveries of one outage do not all come
 * back in the same instant. `random` returns a number in [0, 1).
 */
export function retryDelayMs(
  failedAttempts: number,
  policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>,
  random: () => number,
): number {
  const exponent = Math.min(Math.max(0, failedAttempts - 1), 40);
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.max(1, Math.round(delay * (1 - JITTER + 2 * JITTER * random())));
}

export type NextStep = { readonly kind: 'retry'; readonly at: number } | { readonly kind: 'give_up' };

/**
 * After a failed attempt at `now` (ms): the time of the next attempt, or give up once the window
 * that started at `createdAt` is over. The last retry is pulled in to the end of the window
 * rather than dropped, so a receiver that recovers late in the window still gets the event.
 */
export function afterFailure(
  input: { now: number; createdAt: number; failedAttempts: number },
  policy: RetryPolicy,
  random: () => number,
): NextStep {
  const deadline = input.createdAt + policy.windowMs;
  if (input.now >= deadline) return { kind: 'give_up' };
  return { kind: 'retry', at: Math.min(input.now + retryDelayMs(input.failedAttempts, policy, random), deadline) };
}

/** The endpoint's current run of failures (`since`: ms of the first failure of the run). */
export interface FailureStreak {
  readonly failures: number;
  readonly since: number;
}

export function shouldDisable(streak: FailureStreak, now: number, policy: DisablePolicy): boolean {
  return streak.failures >= policy.afterFailures && now - streak.since >= policy.afterMs;
}
