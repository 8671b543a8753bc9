import { Money } from '../money/money.js';
import type { Loss, Placement, RoundResult, RoundSnapshot, RoundStatus } from '../market/types.js';
import { allocationScore, densityOrder, freeWithAllLeases, greedyAllocate, greedyFill, lpGuidedAllocate } from '../solvers/greedy-heuristic.js';
import type { Allocation, Assignment } from '../solvers/greedy-heuristic.js';
import { HighsBackend } from '../solvers/highs-backend.js';
import { LpSolverBackend } from '../solvers/lp-solver-backend.js';
import type { SolverBackend } from '../solvers/solver-port.js';
import { buildAllocationModel } from './allocation-model.js';
import { recomputeWelfare } from './check-result.js';
import { decompose } from './decompose.js';
import { pricePools } from './price-pools.js';
import { buildRoundProblem, objectiveOffset } from './round-problem.js';
import type { RoundProblem } from './round-problem.js';
import { upperBound } from './upper-bound.js';

export interface ClearOptions {
  /** Wall-clock budget for the whole round; default 10,000 ms. */
  timeLimitMs?: number;
  solver?: 'auto' | 'highs' | 'lp-solver' | 'greedy';
  seed?: number;
}

/** Share of the budget the LP bound may take before the MIP parts get the rest. */
const BOUND_SHARE = 0.35;

function backendFor(solver: ClearOptions['solver']): SolverBackend | null {
  if (solver === 'greedy') return null;
  if (solver === 'lp-solver') return new LpSolverBackend();
  return new HighsBackend();
}

class PhaseClock {
  readonly phases: Record<string, number> = {};
  private last = Date.now();
  lap(name: string): void {
    const now = Date.now();
    this.phases[name] = (this.phases[name] ?? 0) + (now - this.last);
    this.last = now;
  }
}

/** Solves each part as a MIP warm-started from the heuristic; a part keeps the better of the two. */
async function improve(problem: RoundProblem, heuristic: Allocation, backend: SolverBackend, deadline: number, seed: number) {
  const placedOn = new Int32Array(problem.bids.length).fill(-1);
  for (const a of heuristic.assignments) placedOn[a.bid] = a.shares[0].node;
  const parts = decompose(problem, seed, placedOn);
  const preemptedByHeuristic = new Set(heuristic.preempted);
  const warmByBid = new Map(heuristic.assignments.map((a) => [a.bid, a]));
  const sizes = parts.map((p) => p.bids.length + p.leases.length + p.nodeCount);
  let remaining = sizes.reduce((t, s) => t + s, 0);
  const assignments: Assignment[] = [];
  const preempted: number[] = [];
  let allOptimal = true;
  let anyPruned = false;
  const anySplit = parts.some((p) => p.split);
  let improved = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    const warm = part.bids.flatMap((b) => {
      const a = warmByBid.get(b);
      return a && a.shares.every((s) => part.nodeInScope[s.node]) ? [a] : [];
    });
    const partDeadline = Date.now() + Math.max(0, deadline - Date.now()) * (sizes[i] / remaining);
    remaining -= sizes[i];
    const warmAllocation: Allocation = { assignments: warm, preempted: part.leases.filter((l) => preemptedByHeuristic.has(l)) };
    const built = buildAllocationModel(problem, part, warm, warmAllocation.preempted);
    anyPruned ||= built.pruned;
    const outcome = await backend.solve({ model: built.model, deadline: partDeadline, start: built.start, seed });
    let chosen = warmAllocation;
    if (outcome.colValue) {
      const solved = built.decode(outcome.colValue);
      if (allocationScore(problem, solved) >= allocationScore(problem, warmAllocation) - 1e-9) {
        chosen = solved;
        improved ||= allocationScore(problem, solved) > allocationScore(problem, warmAllocation) + 1e-9;
      }
    }
    allOptimal &&= outcome.status === 'optimal';
    assignments.push(...chosen.assignments);
    preempted.push(...chosen.preempted);
  }
  return { allocation: { assignments, preempted }, parts: parts.length, allOptimal, anyPruned, anySplit, improved };
}

/** The final greedy pass: leftover bids into leftover capacity, so seams between parts cost little. */
function fillLeftovers(problem: RoundProblem, allocation: Allocation): { allocation: Allocation; free: Int32Array; added: number } {
  const free = freeWithAllLeases(problem);
  for (const l of allocation.preempted) for (const s of problem.flexibleLeases[l].shares) free[s.node] += s.gpus;
  for (const a of allocation.assignments) for (const s of a.shares) free[s.node] -= s.gpus;
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  const rest = problem.bids.filter((b) => b.options.length > 0 && !placed.has(b.index)).map((b) => b.index);
  const added = greedyFill(problem, densityOrder(problem, rest), free);
  return { allocation: { assignments: [...allocation.assignments, ...added], preempted: allocation.preempted }, free, added: added.length };
}

function toResult(problem: RoundProblem, allocation: Allocation, free: Int32Array): Pick<RoundResult, 'placements' | 'kept' | 'preempted' | 'losses' | 'prices'> {
  const { snapshot } = problem;
  const byBid = new Map(allocation.assignments.map((a) => [a.bid, a]));
  const placements: Placement[] = [];
  const losses: Loss[] = [];
  for (const b of problem.bids) {
    const a = byBid.get(b.index);
    if (!a) {
      losses.push({ bidId: b.bid.id, reason: b.loss ?? 'outbid' });
      continue;
    }
    const shares = [...a.shares].sort((x, y) => x.node - y.node);
    placements.push({ bidId: b.bid.id, gpuModel: b.options[a.option].gpuModel, nodes: shares.map((s) => ({ node: problem.nodes[s.node].node.id, gpus: s.gpus })) });
  }
  const displaced = new Set(allocation.preempted.map((l) => problem.flexibleLeases[l].lease.id));
  return {
    placements,
    losses,
    kept: snapshot.leases.filter((l) => !displaced.has(l.id)).map((l) => l.id),
    preempted: snapshot.leases.filter((l) => displaced.has(l.id)).map((l) => l.id),
    prices: pricePools(problem, allocation, free),
  };
}

/**
 * Clears one round: candidates, heuristic, decomposition into parts, MIP per part, leftover
 * fill, LP bound, prices. Pure: the snapshot is read, never written; the same snapshot, options
 * and seed give the same result as long as the MIP finishes inside its budget.
 */
export async function clearRound(snapshot: RoundSnapshot, options: ClearOptions = {}): Promise<RoundResult> {
  const started = Date.now();
  const deadline = started + (options.timeLimitMs ?? 10_000);
  const seed = options.seed ?? 0;
  const clock = new PhaseClock();
  const problem = buildRoundProblem(snapshot);
  clock.lap('candidates');
  let heuristic = greedyAllocate(problem);
  clock.lap('heuristic');
  const backend = backendFor(options.solver);

  let status: RoundStatus = 'heuristic';
  let bound: number | null = null;
  let parts = 0;
  let proven = false;
  if (backend && heuristic.assignments.length + problem.flexibleLeases.length > 0) {
    const boundDeadline = Date.now() + (deadline - Date.now()) * BOUND_SHARE;
    const relaxed = await upperBound(problem, backend, boundDeadline);
    clock.lap('bound');
    if (relaxed) {
      bound = relaxed.bound;
      const rounded = lpGuidedAllocate(problem, relaxed.bidOptions, relaxed.keep);
      if (allocationScore(problem, rounded) > allocationScore(problem, heuristic) + 1e-9) heuristic = rounded;
      clock.lap('rounding');
    }
  }
  let allocation = heuristic;
  // allocationScore charges displaced leases their keep gain; welfare credits the kept ones.
  const heuristicWelfare = allocationScore(problem, heuristic) + problem.flexibleLeases.reduce((t, l) => t + l.keepGain, 0) + objectiveOffset(problem);
  const heuristicMeetsBound = bound !== null && heuristicWelfare >= bound - 1e-6 * Math.max(1, Math.abs(bound));
  if (backend && !heuristicMeetsBound && heuristic.assignments.length + problem.flexibleLeases.length > 0) {
    const solved = await improve(problem, heuristic, backend, deadline, seed);
    clock.lap('mip');
    allocation = solved.allocation;
    parts = solved.parts;
    proven = solved.allOptimal && !solved.anyPruned && !solved.anySplit;
    status = solved.improved || solved.allOptimal ? 'feasible' : 'heuristic';
  } else if (backend) proven = true;
  const filled = fillLeftovers(problem, allocation);
  clock.lap('fill');
  const decided = toResult(problem, filled.allocation, filled.free);
  clock.lap('price');

  const welfare = recomputeWelfare(snapshot, decided);
  // Proven optimal: one unpruned part solved to optimality, or welfare meeting the LP bound.
  const meetsBound = bound !== null && welfare.toNumber() >= bound - 1e-6 * Math.max(1, Math.abs(bound));
  if (backend && ((proven && filled.added === 0) || meetsBound)) status = 'optimal';
  // The bound is rounded up to whole ten-thousandths so it stays a bound in exact decimal.
  const upper = bound === null ? null : Money.max(welfare, new Money(bound).toDecimalPlaces(4, Money.ROUND_CEIL));
  return {
    version: 1,
    roundId: snapshot.roundId,
    status,
    welfare,
    upperBound: upper,
    ...decided,
    stats: {
      solver: backend ? backend.name : 'greedy',
      solveMs: Date.now() - started,
      candidates: problem.candidateCount,
      phases: clock.phases,
      parts,
      heuristicWelfare,
    },
  };
}
