import { AllocationState } from './heuristics/allocation-state.js';
import type { Allocation } from './allocation.js';
import type { Clock } from './clock.js';
import type { Part } from './decompose.js';
import { applyPart, preparePart } from './improve-parts.js';
import type { RoundProblem } from './round-problem.js';
import type { SolverBackend } from './solver-port.js';

/**
 * The LP-support MIP (RENS, Berthold, "RENS: the optimal rounding", 2014, on the bids): the
 * whole round's compact MIP over every node but only the bids the LP bound gives any weight,
 * plus those placed now, warm-started from the current allocation. Every other bid is left
 * out, as the LP leaves it out.
 *
 * Why: on the 1,000 x 250 rounds the LP is nearly integral (instance 1: bound 2243.72, optimum
 * 2243.41) and the optimum places the bids the LP chose, but rounding the LP onto nodes
 * (lp-packing.ts) leaves 9 of its 183 gangs out, and the local search then drifts to gangs the LP
 * leaves out, one exchange at a time, into a basin 0.2-0.35 points below the optimum that no
 * neighbourhood of one block can leave: what separates them is gangs moved between pools. The
 * MIP over the LP's support sees all pools at once and is a fifth of the round's bids.
 */
export interface SupportOutcome {
  readonly allocation: Allocation;
  readonly improved: boolean;
}

/** LP weight below this is no weight (the LP's own tolerance). */
const SUPPORT_WEIGHT = 1e-6;

/** The bids of the LP-support MIP: every bid the LP weighs, and every bid `start` places. */
export function supportBids(problem: RoundProblem, start: Allocation, lpWeight: Float64Array): number[] {
  const placed = new Uint8Array(problem.bids.length);
  for (const a of start.assignments) placed[a.bid] = 1;
  return problem.bids
    .filter((b) => b.options.length > 0 && (lpWeight[b.index] > SUPPORT_WEIGHT || placed[b.index]))
    .map((b) => b.index);
}

/** Solves the LP-support MIP over `bids` (supportBids) from `start`; its answer is taken only when better. */
export async function improveBySupport(
  problem: RoundProblem,
  start: Allocation,
  bids: readonly number[],
  backend: SolverBackend,
  options: { readonly deadline: number; readonly clock: Clock; readonly seed: number },
): Promise<SupportOutcome> {
  const state = new AllocationState(problem, start);
  const part: Part = {
    bids,
    leases: problem.flexibleLeases.map((l) => l.index),
    nodeInScope: new Uint8Array(problem.nodes.length).fill(1),
    nodeCount: problem.nodes.length,
    split: false,
  };
  const prepared = preparePart(problem, state, part);
  const outcome = await backend.solve({
    model: prepared.built.model,
    deadline: options.deadline,
    start: prepared.built.start,
    seed: options.seed,
  });
  const improved =
    outcome.colValue !== null && applyPart(problem, state, part, prepared.built.decode(outcome.colValue));
  return { allocation: state.toAllocation(), improved };
}
