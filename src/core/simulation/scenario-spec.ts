/**
 * The scenario file format (scenarios/*.json). Every distribution is stated in the file, so a
 * report can be traced back to the exact assumptions that produced it.
 */
export type Distribution =
  | { readonly dist: 'const'; readonly value: number }
  | { readonly dist: 'uniform'; readonly min: number; readonly max: number }
  | { readonly dist: 'exponential'; readonly mean: number; readonly min?: number; readonly max?: number }
  | {
      readonly dist: 'lognormal';
      readonly median: number;
      readonly sigma: number;
      readonly min?: number;
      readonly max?: number;
    }
  | { readonly dist: 'choice'; readonly values: readonly number[]; readonly weights?: readonly number[] };

export interface PoolSpec {
  readonly gpuModel: string;
  readonly gpuMemoryGb: number;
  readonly region: string;
  readonly provider: string;
  readonly nodes: number;
  readonly gpusPerNode: number;
  readonly nodesPerBlock: number;
  /** Per GPU-hour, decimal string. */
  readonly reservePrice: string;
}

export interface BurstSpec {
  /** Hours from the start of the run. */
  readonly atHour: number;
  readonly hours: number;
  /** Arrival rate multiplier while the burst lasts. */
  readonly factor: number;
}

export interface TenantSpec {
  readonly name: string;
  /** Mean arrivals per hour before the cycles and bursts are applied. */
  readonly jobsPerHour: number;
  /** rate x (1 + amplitude x cos(2 pi (hour - peakHour) / 24)); hour is UTC hour of day. */
  readonly diurnal?: { readonly amplitude: number; readonly peakHour: number };
  /** rate x weekendFactor on Saturdays and Sundays. */
  readonly weekly?: { readonly weekendFactor: number };
  readonly bursts?: readonly BurstSpec[];
  readonly gangSize: Distribution;
  readonly runtimeMinutes: Distribution;
  readonly preemptibleShare: number;
  readonly windowShare: number;
  /**
   * Window length as a multiple of the run time (>= 1). One of windowSlack and windowHours is needed when windowShare
   * > 0.
   */
  readonly windowSlack?: Distribution;
  /**
   * Window length in hours from arrival, whatever the run time ("4 hours within the next 24"),
   * never shorter than the run time. Takes precedence over windowSlack.
   */
  readonly windowHours?: Distribution;
  /** Acceptable models, preferred first; the value of a substitute is value x valueFactor. */
  readonly models: readonly { readonly gpuModel: string; readonly valueFactor: number }[];
  /** Value per GPU-hour of the preferred model, by flexibility class. */
  readonly value: {
    readonly fixedNow: Distribution;
    readonly fixedWindow: Distribution;
    readonly preemptibleNow: Distribution;
    readonly preemptibleWindow: Distribution;
  };
  readonly contiguity: 'node' | 'nvlink' | 'block' | 'none';
  readonly regions?: readonly string[];
}

export interface ScenarioSpec {
  readonly name: string;
  readonly description: string;
  /** ISO-8601 UTC; a Monday 00:00 keeps the weekly cycle readable. */
  readonly start: string;
  readonly hours: number;
  readonly periodSeconds: number;
  readonly feePercent: string;
  readonly preemptionPenalty: string;
  readonly minHoldSeconds: number;
  readonly preemptionNoticeSeconds: number;
  readonly fleet: readonly PoolSpec[];
  readonly tenants: readonly TenantSpec[];
  /**
   * When set, every job's limit per GPU-hour (of its preferred model) is drawn from this one
   * distribution whatever its flexibility class, instead of the tenant's per-class `value`:
   * the flexibility ratio then measures what the market makes of flexibility alone.
   */
  readonly identicalLimits?: Distribution;
}
