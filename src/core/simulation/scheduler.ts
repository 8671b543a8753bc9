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
  /** Per share, the price per GPU-hour it pays for the current period (as the round repriced it); null: not charged per period. */
  unitPrices: readonly Money[] | null;
}

export interface SchedulerView {
  readonly now: number;
  readonly nowIso: string;
  readonly roundIndex: number;
  readonly nodes: readonly MarketNode[];
  /** GPUs per node not promised to an allocated or running lease. A preempting lease's GPUs are already promised to its successor. */
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
   * Per lease id, the unit price per share for the coming period (the market's round outcome).
   * Without it the engine prices by `charging`: the reserve (`list`), or min(pool price, limit).
   */
  readonly repricing?: ReadonlyMap<string, readonly Money[]>;
  /** Clearing price per pool (poolKey); null for schedulers without prices. */
  readonly prices: ReadonlyMap<string, Money> | null;
  readonly solveMs: number;
  readonly status?: string;
  /** The clearing stopped at its wall-clock time limit: its result may differ on another run. */
  readonly hitTimeLimit?: boolean;
}

/**
 * How a baseline's users pay. `clearing`: min(pool price, limit) per GPU-hour run;
 * `list`: the node's reserve price per GPU-hour run; `reserved`: the reserve price for every
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
