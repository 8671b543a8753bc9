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

/** A placement with what it pays (market.md section 5a). */
export interface PricedPlacement extends Placement {
  /** min(value, GPU-weighted mean of its nodes' prices), per GPU-hour, six decimals. */
  readonly unitPrice: Money;
  /** The mean minus unitPrice: what the cap leaves the market to pay the providers. */
  readonly uplift: Money;
}

export interface NodePrice {
  readonly node: string;
  /** reservePrice + the node's rent this round, per GPU-hour, six decimals at most. */
  readonly price: Money;
}

export interface KeptPrice {
  readonly leaseId: string;
  readonly unitPrice: Money;
  readonly uplift: Money;
}

export type ParadoxReason = 'indivisible' | 'idle_gpus';

/** A losing bid that could have taken GPUs below its limit at the round's node prices. */
export interface ParadoxicalRejection {
  readonly bidId: string;
  /** The offer's model on which it could have. */
  readonly gpuModel: string;
  readonly reason: ParadoxReason;
  /** What its cheapest eligible GPUs cost per GPU-hour (penalty included where it would displace a lease). */
  readonly cheapestPrice: Money;
}

export interface PoolPrice {
  readonly gpuModel: string;
  readonly region: string;
  /** The pool index: the lowest node price among nodes with a contestable GPU (else of the pool). */
  readonly price: Money;
  /** The losing bid or displaced lease that set the index node's price; null when its reserve did. */
  readonly marginalBidId: string | null;
  readonly minNodePrice: Money;
  readonly medianNodePrice: Money;
  readonly maxNodePrice: Money;
  /** GPU-weighted mean unit price of the placements and kept leases on the pool's nodes; null when none. */
  readonly vwap: Money | null;
  /** GPUs of placements and kept leases on the pool's nodes. */
  readonly soldGpus: number;
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
  readonly placements: readonly PricedPlacement[];
  readonly kept: readonly string[];
  readonly preempted: readonly string[];
  readonly prices: readonly PoolPrice[];
  /** One per node with a usable GPU. */
  readonly nodePrices: readonly NodePrice[];
  /** One per kept lease. */
  readonly keptPrices: readonly KeptPrice[];
  readonly paradoxicallyRejected: readonly ParadoxicalRejection[];
  readonly losses: readonly Loss[];
  readonly stats: RoundStats;
}

export function poolKey(gpuModel: string, region: string): string {
  return `${gpuModel}\u0000${region}`;
}
