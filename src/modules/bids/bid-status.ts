/** A bid's states and the workload it carries, as the bids table stores them (SQL in bids.repository.ts). */
export type BidStatus = 'open' | 'allocated' | 'running' | 'completed' | 'cancelled' | 'expired' | 'failed';
export const BID_STATUSES: readonly BidStatus[] = [
  'open',
  'allocated',
  'running',
  'completed',
  'cancelled',
  'expired',
  'failed',
];
/** A bid in one of these states is done: it can no longer be cancelled or change. */
export const FINISHED_BID_STATUSES: readonly BidStatus[] = ['completed', 'cancelled', 'expired', 'failed'];

export interface WorkloadSpec {
  readonly image?: string;
  readonly command?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}
