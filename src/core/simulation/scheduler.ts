import type { Money } from '../money/money.js';
import type { Lease } from '../market/lease-lifecycle.js';
import type { MarketNode } from '../market/types.js';
import type { SimJob } from './workload.js';

/** The port every baseline implements: one decision per round over a read-only view. */
export interface Share {
  /** Index into the fleet's node array. */
  readonly node: number;
  readonly gpus: number;
}

export interface OpenJob {
  readonly index: number;
  readonly job: SimJob;
  readonly remainingSeconds: number;
}

export interface LeaseRecord {
  readonly id: string;
  readonly jobIndex: number;
  readonly job: SimJob;
  lease: Lease;
  readonly shares: readonly Share[];
  /** The same shares by node id, as snapshots and the round outcome name them. */
  readonly nodeShares: readonly { readonly nodeId: string; readonly gpus: number }[];
  readonly gpuModel: string;
  /** The winning offer's maxPrice. */
  readonly limit: Money;
  /** Not before this second: when the leases it displaced have had their notice. */
  readonly startAfter: number;
  /** What it pays for the current period (as the last round priced it); null: not charged per period. */
  pricing: LeasePricing | null;
}

/**
 * A lease's prices for one period (market.md section 5a). The providers earn each share's node
 * price; the tenant pays min(cap, GPU-weighted mean of the node prices) and the rest of the mean
 * is uplift, paid by the market. Settled by src/core/settlement/settle-lease.ts.
 */
export interface LeasePricing {
  /** Per share, in the lease's share order: the node's price per GPU-hour. */
  readonly nodePrices: readonly Money[];
  /**
   * The tenant never pays more per GPU-hour: the lease's limit (market), the dearest node price (list: no cap binds).
   */
  readonly cap: Money;
  /** min(cap, mean node price), per GPU-hour, six decimals. */
  readonly unitPrice: Money;
  /** The mean node price minus unitPrice, per GPU-hour (0 unless the cap binds). */
  readonly uplift: Money;
  /** The shares' (node price, GPUs) and the cap as text: equal keys settle to equal amounts. */
  readonly key: string;
}

/** A round's price for one live lease: its shares' node prices and what the round says it pays. */
export interface RoundLeasePrice {
  /** Per share, in the lease's share order. */
  readonly nodePrices: readonly Money[];
  readonly unitPrice: Money;
  readonly uplift: Money;
}

/** What a market round said about its prices beyond the leases' own, for the report. */
export interface RoundPricing {
  /** Bids the round turned away (one loss each). */
  readonly losers: number;
  /** Losing bids listed as paradoxically rejected, each once, by reason. */
  readonly paradoxicallyRejected: Readonly<Record<string, number>>;
  /**
   * Per pool (poolKey): the GPU-weighted mean unit price of the placements and kept leases on its nodes, and their
   * GPUs.
   */
  readonly vwap: ReadonlyMap<string, { readonly price: Money | null; readonly soldGpus: number }>;
  /**
   * The round's unit prices that differ from the settlement rule's (leaseUnitPrice of the lease's limit and node
   * prices): 0 when the core is coherent.
   */
  readonly unitPriceMismatches: number;
  /** How the core priced the round (stats.pricing.method), when it says. */
  readonly method: string | null;
}

export interface SchedulerView {
  readonly now: number;
  readonly nowIso: string;
  readonly roundIndex: number;
  readonly nodes: readonly MarketNode[];
  /**
   * GPUs per node not promised to an allocated or running lease. A preempting lease's GPUs are already promised to
   * its successor.
   */
  readonly free: Int32Array;
  /** Eligible bids, in arrival order. */
  readonly open: readonly OpenJob[];
  /**
   * The live leases the round sees (src/core/market/round-leases.ts), oldest first: allocated and
   * running ones, and those in their notice whose GPUs were not handed to a newer lease.
   */
  readonly leases: readonly SeenLease[];
  /** Ids for the leases a decision creates. */
  newLeaseId(): string;
}

export interface SeenLease {
  readonly record: LeaseRecord;
  /** Virtual second; null for a lease in its notice (offered unprotected). */
  readonly protectedUntil: number | null;
}

export interface PlacementDecision {
  readonly jobIndex: number;
  readonly gpuModel: string;
  readonly shares: readonly Share[];
  readonly limit: Money;
  /** Defaults: a fresh id, start now (or when its GPUs come free), protected from its start. */
  readonly leaseId?: string;
  readonly startAfter?: number;
  readonly protectedUntil?: number;
}

export interface RoundDecision {
  readonly placements: readonly PlacementDecision[];
  /** Running leases that get a preemption notice. */
  readonly preempt: readonly string[];
  /** Leases in their notice that the round kept: they run on and are not stopped. */
  readonly winBacks?: readonly string[];
  /**
   * Per lease id, its node prices and unit price for the coming period (the market's round
   * outcome). Without it the engine prices by `charging`: each node at its reserve (`list`), or
   * each node at its pool's price, capped at the lease's limit (`clearing`).
   */
  readonly repricing?: ReadonlyMap<string, RoundLeasePrice>;
  /** The pool index per pool (poolKey): the published clearing price; null for schedulers without prices. */
  readonly prices: ReadonlyMap<string, Money> | null;
  /** The round's price figures beyond the index (market only). */
  readonly pricing?: RoundPricing;
  readonly solveMs: number;
  readonly status?: string;
  /** The clearing stopped at its wall-clock time limit: its result may differ on another run. */
  readonly hitTimeLimit?: boolean;
}

/**
 * How a baseline's users pay. `clearing`: the node prices the round set, capped at the lease's
 * limit (the rest is uplift), per GPU-hour run; `list`: each node's reserve price per GPU-hour
 * run (its reserve is its price, no cap binds); `reserved`: the reserve price for every
 * GPU-hour of owned capacity, used or not (charged by the metrics, not per round).
 */
export type Charging = 'clearing' | 'list' | 'reserved';

export interface Scheduler {
  readonly name: string;
  readonly charging: Charging;
  /** Whether the scheduler honours bid windows (expires bids whose window can no longer fit). */
  readonly honoursDeadlines: boolean;
  decide(view: SchedulerView): RoundDecision | Promise<RoundDecision>;
}
