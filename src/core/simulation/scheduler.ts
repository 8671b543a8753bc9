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
  readonly gpuModel: string;
  /** The winning offer's maxPrice. */
  readonly limit: Money;
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
  /** Allocated and running leases (not preempting ones). */
  readonly leases: readonly LeaseRecord[];
}

export interface PlacementDecision {
  readonly jobIndex: number;
  readonly gpuModel: string;
  readonly shares: readonly Share[];
  readonly limit: Money;
}

export interface RoundDecision {
  readonly placements: readonly PlacementDecision[];
  readonly preempt: readonly string[];
  /** Clearing price per pool (poolKey); null for schedulers without prices. */
  readonly prices: ReadonlyMap<string, Money> | null;
  readonly solveMs: number;
  readonly status?: string;
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
