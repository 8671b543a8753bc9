/**
 * What a clearing decides, in the indices of its RoundProblem (round-problem.ts): which option
 * each placed bid takes, on which nodes, and which flexible leases make room. Every phase of
 * clearRound (heuristics, LP packing, MIP parts, prices) reads and returns this shape.
 */
export interface NodeGpus {
  readonly node: number;
  readonly gpus: number;
}

export interface Assignment {
  readonly bid: number;
  /** Index into the bid's options (not the offer index). */
  readonly option: number;
  readonly shares: readonly NodeGpus[];
}

export interface Allocation {
  readonly assignments: readonly Assignment[];
  /** Indices of flexible leases displaced. */
  readonly preempted: readonly number[];
}
