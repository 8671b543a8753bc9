import { AllocationState } from '../solvers/allocation-state.js';
import type { Allocation, Assignment } from '../solvers/greedy-heuristic.js';
import type { SolverBackend } from '../solvers/solver-port.js';
import { buildAllocationModel } from './allocation-model.js';
import { decompose } from './decompose.js';
import type { RoundProblem } from './round-problem.js';

/**
 * The MIP phase: the round split into parts (decompose.ts), each part's compact MIP solved
 * warm-started from the current allocation, and a part's answer taken only when it is better.
 * Gangs and leases that reach outside a part stay as they are and the part sees only the GPUs
 * they leave, so the parts' answers always fit together and the result is never worse.
 */
export interface PartsOutcome {
  readonly allocation: Allocation;
  readonly parts: number;
  /** Every part solved to proven optimality, unsplit and unpruned: the round's optimum. */
  readonly proven: boolean;
  readonly improved: boolean;
}

/** Below this, a part's MIP cannot get past its root LP, so no more parts are started. */
const MIN_PART_MS = 30;

export async function improveByParts(problem: RoundProblem, start: Allocation, backend: SolverBackend, deadline: number, seed: number): Promise<PartsOutcome> {
  const state = new AllocationState(problem, start);
  const placedOn = Int32Array.from(state.placed, (a) => (a ? a.shares[0].node : -1));
  const parts = decompose(problem, seed, placedOn);
  const sizes = parts.map((p) => p.bids.length + p.leases.length + p.nodeCount);
  const lanes = Math.max(1, Math.floor(backend.concurrency ?? 1));
  let remaining = sizes.reduce((t, s) => t + s, 0);
  let next = 0;
  let proven = true;
  let improved = false;

  // Parts share no node, bid or lease (decompose.ts), so a part solved while others are in flight
  // sees the same GPUs it would see after them, and answers apply in any order.
  const solvePart = async (i: number): Promise<void> => {
    const part = parts[i];
    // A lane's share of what is left: the part's size over the work the lanes still share.
    const partDeadline = Math.min(deadline, Date.now() + Math.max(0, deadline - Date.now()) * Math.min(1, (lanes * sizes[i]) / remaining));
    remaining -= sizes[i];
    const inPart = (a: Assignment | null) => a === null || a.shares.every((s) => part.nodeInScope[s.node]);
    const bids = part.bids.filter((b) => inPart(state.placed[b]));
    const warm = bids.flatMap((b) => (state.placed[b] ? [state.placed[b]!] : []));
    const warmPreempted = part.leases.filter((l) => !state.kept[l]);
    // What this part may hand out: what is free now plus what its own gangs and leases hold.
    const capacity = new Int32Array(problem.nodes.length);
    problem.nodes.forEach((n) => {
      if (part.nodeInScope[n.index]) capacity[n.index] = state.free[n.index];
    });
    for (const a of warm) for (const s of a.shares) capacity[s.node] += s.gpus;
    for (const l of part.leases) if (state.kept[l]) for (const s of problem.flexibleLeases[l].shares) capacity[s.node] += s.gpus;

    const built = buildAllocationModel(problem, { bids, leases: part.leases, nodeInScope: part.nodeInScope, capacity }, warm, warmPreempted);
    const outcome = await backend.solve({ model: built.model, deadline: partDeadline, start: built.start, seed });
    proven &&= outcome.status === 'optimal' && !built.pruned && !part.split && bids.length === part.bids.length;
    if (!outcome.colValue) return;
    // Between the await and here nothing else runs, so the part's gangs are still where `warm` says.
    const solved = built.decode(outcome.colValue);
    const mark = state.mark();
    const before = state.score;
    for (const a of warm) state.unplace(a.bid);
    for (const l of part.leases) if (state.kept[l]) state.dropLease(l);
    const displaced = new Set(solved.preempted);
    for (const l of part.leases) if (!displaced.has(l)) state.keepLease(l);
    for (const a of solved.assignments) state.place(a);
    if (state.score > before + 1e-9) improved = true;
    else state.rollback(mark);
    state.commit();
  };
  const lane = async (): Promise<void> => {
    while (next < parts.length) {
      // A part started with no time left still pays for presolve and a root LP: stop instead.
      if (deadline - Date.now() < MIN_PART_MS) {
        proven = false;
        next = parts.length;
        return;
      }
      await solvePart(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, parts.length) }, lane));
  return { allocation: state.toAllocation(), parts: parts.length, proven, improved };
}
