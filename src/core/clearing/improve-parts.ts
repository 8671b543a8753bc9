import { AllocationState } from './heuristics/allocation-state.js';
import type { Allocation, Assignment } from './allocation.js';
import type { SolverBackend } from './solver-port.js';
import { buildAllocationModel, type AllocationModel } from './allocation-model.js';
import type { Clock } from './clock.js';
import { decompose, type Part } from './decompose.js';
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

export interface PreparedPart {
  readonly part: Part;
  readonly built: AllocationModel;
  /** The part's gangs placed in it when it was built. */
  readonly warm: readonly Assignment[];
  /** Whether every bid of the part is in its model. */
  readonly whole: boolean;
}

/** A part's MIP built over the GPUs `state` leaves it: what is free plus what its own gangs and leases hold. */
export function preparePart(problem: RoundProblem, state: AllocationState, part: Part): PreparedPart {
  const inPart = (a: Assignment | null) => a === null || a.shares.every((s) => part.nodeInScope[s.node]);
  const bids = part.bids.filter((b) => inPart(state.placed[b]));
  const warm = bids.flatMap((b) => (state.placed[b] ? [state.placed[b]!] : []));
  const warmPreempted = part.leases.filter((l) => !state.kept[l]);
  const capacity = new Int32Array(problem.nodes.length);
  problem.nodes.forEach((n) => {
    if (part.nodeInScope[n.index]) capacity[n.index] = state.free[n.index];
  });
  for (const a of warm) for (const s of a.shares) capacity[s.node] += s.gpus;
  for (const l of part.leases)
    if (state.kept[l]) for (const s of problem.flexibleLeases[l].shares) capacity[s.node] += s.gpus;
  const built = buildAllocationModel(
    problem,
    { bids, leases: part.leases, nodeInScope: part.nodeInScope, capacity },
    warm,
    warmPreempted,
  );
  return { part, built, warm, whole: bids.length === part.bids.length };
}

const fits = (state: AllocationState, shares: readonly { node: number; gpus: number }[]) =>
  shares.every((s) => state.free[s.node] >= s.gpus);

/**
 * Puts a part's solved allocation in place of what `state` has in the part, if it fits and
 * scores better; otherwise leaves `state` as it was. Gangs of the part that reach outside it
 * stay; a solved gang or kept lease that no longer fits (the state changed since the part was
 * built) voids the whole answer.
 */
export function applyPart(problem: RoundProblem, state: AllocationState, part: Part, solved: Allocation): boolean {
  const mark = state.mark();
  const before = state.score;
  for (const b of part.bids) {
    const a = state.placed[b];
    if (a && a.shares.every((s) => part.nodeInScope[s.node])) state.unplace(b);
  }
  const displaced = new Set(solved.preempted);
  for (const l of part.leases) if (state.kept[l] && displaced.has(l)) state.dropLease(l);
  let ok = true;
  for (const l of part.leases) {
    if (state.kept[l] || displaced.has(l)) continue;
    if (!fits(state, problem.flexibleLeases[l].shares)) ok = false;
    else state.keepLease(l);
  }
  for (const a of solved.assignments) {
    if (!ok) break;
    if (state.placed[a.bid] || !fits(state, a.shares)) ok = false;
    else state.place(a);
  }
  if (ok && state.score > before + 1e-9) {
    state.commit();
    return true;
  }
  state.rollback(mark);
  state.commit();
  return false;
}

export async function improveByParts(
  problem: RoundProblem,
  start: Allocation,
  backend: SolverBackend,
  deadline: number,
  seed: number,
  clock: Clock,
): Promise<PartsOutcome> {
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
    // A lane's share of what is left: the part's size over the work the lanes still share.
    const partDeadline = Math.min(
      deadline,
      clock() + Math.max(0, deadline - clock()) * Math.min(1, (lanes * sizes[i]) / remaining),
    );
    remaining -= sizes[i];
    const prepared = preparePart(problem, state, parts[i]);
    const outcome = await backend.solve({
      model: prepared.built.model,
      deadline: partDeadline,
      start: prepared.built.start,
      seed,
    });
    proven &&= outcome.status === 'optimal' && !prepared.built.pruned && !parts[i].split && prepared.whole;
    if (outcome.colValue && applyPart(problem, state, parts[i], prepared.built.decode(outcome.colValue)))
      improved = true;
  };
  const lane = async (): Promise<void> => {
    while (next < parts.length) {
      // A part started with no time left still pays for presolve and a root LP: stop instead.
      if (deadline - clock() < MIN_PART_MS) {
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
