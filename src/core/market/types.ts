import type { Money } from '../money/money.js';

/**
 * The domain types of one clearing round, shared by the service, `gpumarket clear`, the
 * simulator and the benchmarks. They mirror the round-file contract (docs/round-files.md);
 * money is exact decimal here and a decimal string in files and JSON.
 */

export type Contiguity = 'node' | 'nvlink' | 'block' | 'none';
export const CONTIGUITIES: readonly Contiguity[] = ['node', 'nvlink', 'block', 'none'];

export interface MarketNode {
  readonly id: string;
  readonly provider: string;
  readonly gpuModel: string;
  readonly gpuMemoryGb: number;
  readonly gpus: number;
  /** GPUs no one may use this round (down, held outside the market). */
  readonly unavailableGpus: number;
  readonly region: string;
  readonly block: string;
  readonly nvlinkDomain: string;
  readonly compliance: readonly string[];
  /** The provider's ask per GPU-hour. */
  readonly reservePrice: Money;
}

export interface Offer {
  readonly gpuModel: string;
  /** Limit price per GPU-hour for this model. */
  readonly maxPrice: Money;
}

export interface NodeShare {
  readonly node: string;
  readonly gpus: number;
}

export interface RunningLease {
  readonly id: string;
  readonly bidId: string;
  readonly gpuModel: string;
  /** Value per GPU-hour: the winning offer's maxPrice. */
  readonly value: Money;
  readonly preemptible: boolean;
  /** ISO-8601; the lease is fixed while this is after `now`. Null: never protected. */
  readonly protectedUntil: string | null;
  readonly placement: readonly NodeShare[];
}

export interface OpenBid {
  readonly id: string;
  readonly gpus: number;
  readonly contiguity: Contiguity;
  readonly preemptible: boolean;
  readonly offers: readonly Offer[];
  /** Empty: any region. */
  readonly regions: readonly string[];
  /** Every tag must be on the node. */
  readonly compliance: readonly string[];
  readonly minGpuMemoryGb: number;
}

export interface RoundParams {
  /** Per GPU-hour, charged in the objective for each GPU of a displaced lease. */
  readonly preemptionPenalty: Money;
}

export interface RoundSnapshot {
  readonly version: 1;
  readonly roundId: string;
  /** ISO-8601 UTC. */
  readonly now: string;
  readonly periodSeconds: number;
  readonly params: RoundParams;
  readonly nodes: readonly MarketNode[];
  readonly leases: readonly RunningLease[];
  readonly bids: readonly OpenBid[];
}

export type RoundStatus = 'optimal' | 'feasible' | 'heuristic';

export type LossReason = 'outbid' | 'no_capacity_for_contiguity' | 'below_reserve' | 'no_matching_nodes';

export interface Placement {
  readonly bidId: string;
  readonly gpuModel: string;
  readonly nodes: readonly NodeShare[];
}

export interface PoolPrice {
  readonly gpuModel: string;
  readonly region: string;
  readonly price: Money;
  /** The bid (or lease) whose value set the price; null when the price is the reserve floor. */
  readonly marginalBidId: string | null;
}

export interface Loss {
  readonly bidId: string;
  readonly reason: LossReason;
}

export interface RoundStats {
  readonly solver: string;
  readonly solveMs: number;
  readonly candidates: number;
  /** Milliseconds per named phase, in the order they ran. */
  readonly phases: Readonly<Record<string, number>>;
  readonly [extra: string]: unknown;
}

export interface RoundResult {
  readonly version: 1;
  readonly roundId: string;
  readonly status: RoundStatus;
  /** Per hour; see docs/round-files.md for the definition. */
  readonly welfare: Money;
  readonly upperBound: Money | null;
  readonly placements: readonly Placement[];
  readonly kept: readonly string[];
  readonly preempted: readonly string[];
  readonly prices: readonly PoolPrice[];
  readonly losses: readonly Loss[];
  readonly stats: RoundStats;
}

export function poolKey(gpuModel: string, region: string): string {
  return `${gpuModel}\u0000${region}`;
}
