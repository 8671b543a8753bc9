/**
 * Every background job the service runs, with its payload. Payloads carry ids, never secrets:
 * a handler loads what it needs, so a retried job sees the current state. Handlers are
 * idempotent because every job may run more than once (at-least-once delivery).
 */
export interface JobCatalogue {
  /** Clears one round for the period that starts at `periodStart` (ISO-8601). */
  'round.clear': { periodStart?: string };
  /** Moves committed outbox rows to the queue (a safety net; commits also relay at once). */
  'outbox.relay': Record<string, never>;
  /** Sends one order (place, preempt, terminate) to its provider's adapter. */
  'order.dispatch': { orderId: string };
  /** Polls adapters for the status of live leases that do not push their status. */
  'lease.sync': Record<string, never>;
  /**
   * An attempt of this webhook delivery and of its endpoint's other due deliveries, in batches
   * (one job per endpoint and commit). Retries are the handler's own (jittered backoff over
   * hours, scheduled through the outbox), so the queue tries each job once.
   */
  'webhook.deliver': { deliveryId: string };
}

export type JobName = keyof JobCatalogue;

export interface RetryPolicy {
  /** Total tries, the first included. */
  readonly attempts: number;
  /** First retry delay; doubles on each further retry. */
  readonly backoffMs: number;
}

export const RETRY_POLICIES: Record<JobName, RetryPolicy> = {
  'round.clear': { attempts: 1, backoffMs: 0 },
  'outbox.relay': { attempts: 1, backoffMs: 0 },
  'order.dispatch': { attempts: 6, backoffMs: 1_000 },
  'lease.sync': { attempts: 1, backoffMs: 0 },
  'webhook.deliver': { attempts: 1, backoffMs: 0 },
};
