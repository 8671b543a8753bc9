import type { Money } from '../money/money.js';
import type { BidWindow } from '../market/bid-window.js';
import type { Contiguity, MarketNode, Offer } from '../market/types.js';

/**
 * What every baseline replays: one fleet and one list of jobs, whether they came from a
 * synthetic scenario or a trace. Times are virtual seconds from the start of the replay.
 */
export interface SimJob {
  readonly id: string;
  readonly tenant: string;
  readonly arrival: number;
  readonly gpus: number;
  readonly runtimeSeconds: number;
  readonly preemptible: boolean;
  readonly window: BidWindow | null;
  /** Acceptable models, most preferred first, each with the value per GPU-hour as the limit. */
  readonly offers: readonly Offer[];
  readonly contiguity: Contiguity;
  readonly regions: readonly string[];
}

export type FlexibilityClass = 'preemptible_window' | 'preemptible_now' | 'fixed_window' | 'fixed_now';
export const FLEXIBILITY_CLASSES: readonly FlexibilityClass[] = [
  'preemptible_window',
  'preemptible_now',
  'fixed_window',
  'fixed_now',
];

export function flexibilityClass(job: Pick<SimJob, 'preemptible' | 'window'>): FlexibilityClass {
  return `${job.preemptible ? 'preemptible' : 'fixed'}_${job.window ? 'window' : 'now'}` as FlexibilityClass;
}

export interface MarketParams {
  readonly periodSeconds: number;
  readonly feePercent: Money;
  readonly preemptionPenalty: Money;
  readonly minHoldSeconds: number;
  readonly preemptionNoticeSeconds: number;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** ISO-8601 of virtual second 0 (round snapshots carry real timestamps). */
  readonly epoch: string;
  readonly horizonSeconds: number;
  readonly nodes: readonly MarketNode[];
  readonly jobs: readonly SimJob[];
  readonly tenants: readonly string[];
  readonly params: MarketParams;
  /** How values, windows and anything else the source lacked were synthesised. */
  readonly notes: readonly string[];
  /**
   * Limits drawn per flexibility class (default), or from one distribution for every class (flexibility measured from
   * the market alone).
   */
  readonly limits?: 'by-class' | 'identical';
}
