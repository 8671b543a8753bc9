import { buildAllocationModel } from '../../src/core/clearing/allocation-model.js';
import { recomputeWelfare } from '../../src/core/clearing/check-result.js';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import type { RoundProblem } from '../../src/core/clearing/round-problem.js';
import type { Money } from '../../src/core/money/money.js';
import type { RoundSnapshot } from '../../src/core/market/types.js';
import type { Allocation } from '../../src/core/clearing/allocation.js';
import { greedyAllocate } from '../../src/core/clearing/heuristics/greedy-heuristic.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import { improveLocally } from '../../src/core/clearing/heuristics/local-search.js';
import { lpPacking } from '../../src/core/clearing/heuristics/lp-packing.js';

/**
 * The two baselines every benchmark row is compared with: the plain greedy on its own, and
 * HiGHS on the whole round as one compact MIP (same candidate pruning, no decomposition, no
 * warm start, no leftover pass) under the same time budget.
 */
function welfareOf(problem: RoundProblem, allocation: Allocation): Money {
  const displaced = new Set(allocation.preempted.map((l) => problem.flexibleLeases[l].lease.id));
  return recomputeWelfare(problem.snapshot, {
    placements: allocation.assignments.map((a) => ({
      bidId: problem.bids[a.bid].bid.id,
      gpuModel: problem.bids[a.bid].options[a.option].gpuModel,
      nodes: a.shares.map((s) => ({ node: problem.nodes[s.node].node.id, gpus: s.gpus })),
    })),
    kept: problem.snapshot.leases.filter((l) => !displaced.has(l.id)).map((l) => l.id),
    preempted: [...displaced],
  });
}

export function greedyBaseline(snapshot: RoundSnapshot): { welfare: Money } {
  const problem = buildRoundProblem(snapshot);
  return { welfare: welfareOf(problem, greedyAllocate(problem)) };
}

export async function monolithicBaseline(
  snapshot: RoundSnapshot,
  timeLimitMs: number,
): Promise<{ welfare: Money | null; status: string }> {
  const deadline = Date.now() + timeLimitMs;
  const problem = buildRoundProblem(snapshot);
  const scope = {
    bids: problem.bids.filter((b) => b.options.length > 0).map((b) => b.index),
    leases: problem.flexibleLeases.map((l) => l.index),
    nodeInScope: new Uint8Array(problem.nodes.length).fill(1),
  };
  const built = buildAllocationModel(problem, scope, []);
  const outcome = await new HighsBackend().solve({ model: built.model, deadline });
  if (!outcome.colValue) return { welfare: null, status: outcome.status };
  return { welfare: welfareOf(problem, built.decode(outcome.colValue)), status: outcome.status };
}

/**
 * The optimum a row's goal is measured against, where HiGHS can prove it: the whole round as
 * one compact MIP (the same pruning: the best candidates per offer), warm-started from our LP
 * packing and local search run to completion, with a long limit. `optimal` proves the
 * optimum of that model; the unpruned optimum lies between it and the LP bound.
 */
export async function warmStartedOptimum(
  snapshot: RoundSnapshot,
  timeLimitMs: number,
): Promise<{ welfare: Money | null; status: string; start: Money }> {
  const problem = buildRoundProblem(snapshot);
  const backend = new HighsBackend();
  const relaxed = await upperBound(problem, backend, Date.now() + timeLimitMs, Date.now);
  const packed = relaxed ? lpPacking(problem, relaxed) : greedyAllocate(problem);
  const start = improveLocally(problem, packed, { deadline: Date.now() + timeLimitMs, clock: Date.now });
  const best = await wholeRoundMip(problem, start, backend, timeLimitMs);
  return {
    welfare: best.allocation ? welfareOf(problem, best.allocation) : null,
    status: best.status,
    start: welfareOf(problem, start),
  };
}

/** HiGHS on the whole round as one compact MIP from `start`, to a 1e-6 gap or `timeLimitMs`. */
export async function wholeRoundMip(
  problem: RoundProblem,
  start: Allocation,
  backend: HighsBackend,
  timeLimitMs: number,
): Promise<{ allocation: Allocation | null; status: string }> {
  const scope = {
    bids: problem.bids.filter((b) => b.options.length > 0).map((b) => b.index),
    leases: problem.flexibleLeases.map((l) => l.index),
    nodeInScope: new Uint8Array(problem.nodes.length).fill(1),
  };
  const built = buildAllocationModel(problem, scope, start.assignments, start.preempted);
  const outcome = await backend.solve({
    model: built.model,
    deadline: Date.now() + timeLimitMs,
    start: built.start,
    relativeGap: 1e-6,
  });
  return { allocation: outcome.colValue ? built.decode(outcome.colValue) : null, status: outcome.status };
}
