/** The events the market records for tenants, each a webhook event type (docs/webhooks.md). */
export const MARKET_EVENT_TYPES = [
  'bid.allocated',
  'bid.expired',
  'lease.running',
  'lease.preemption_notice',
  'lease.preempted',
  'lease.completed',
  'lease.failed',
  /** An order to stop the lease's workload failed for good; it may still run (docs/operations.md). */
  'lease.stop_failed',
  /** The workload the market failed to stop is gone; its GPUs are free again. */
  'lease.stop_confirmed',
  'round.cleared',
] as const;

export type MarketEventType = (typeof MARKET_EVENT_TYPES)[number];
