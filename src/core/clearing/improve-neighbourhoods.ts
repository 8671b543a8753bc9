import { AllocationState } from './heuristics/allocation-state.js';
import type { Allocation } from './allocation.js';
import type { Clock } from './clock.js';
import type { Part } from './decompose.js';
import { applyPart, preparePart } from './improve-parts.js';
import type { RoundProblem } from './round-problem.js';
import type { SolverBackend } from './solver-port.js';

/**
 * MIP neighbourhoods (large neighbourhood search): once the local search has done most of its
 * work, small MIPs re-pack a few nodes at a time exactly. A neighbourhood is the nodes a valuable losing gang
 * could use, grown to a few nodes by its block, with the gangs placed wholly inside it and the losers
 * with most at stake that could use it; HiGHS solves it warm-started from the current allocation
 * in a few tens of milliseconds and its answer is taken only when better (applyPart).
 *
 * Why: what the search leaves is bin packing (a 16-GPU NVLink gang in place of two 8-GPU gangs
 * and small ones around them, docs/benchmarks.md) that one chain of evictions cannot see, while
 * the MIP over a whole part is too big to finish inside a 1 s round.
 */
export interface NeighbourhoodOptions {
  readonly deadline: number;
  readonly clock: Clock;
  readonly seed: number;
  /** Stop after this many solves (fixed work, for benchmarks); default: until the deadline. */
  readonly maxSolves?: number;
  /**
   * Rounds of at most 2,000 live bids start with small neighbourhoods (START.small), larger
   * rounds with larger ones (START.large); default 'large'.
   */
  readonly scale?: 'small' | 'large';
  /** Nodes per neighbourhood and losers in it, fixed (no growth); for benchmarks. */
  readonly nodes?: number;
  readonly losers?: number;
  /** Called after each solve, for benchmarks: the score so far (AllocationState's). */
  readonly onSolve?: (score: number) => void;
  /**
   * Per bid, its weight in the LP relaxation: losers the LP would have placed are the likeliest
   * to fit after a re-packing, so their neighbourhoods go first and they join others first.
   */
  readonly lpWeight?: Float64Array;
}

/**
 * Nodes and losers of the first neighbourhoods, by round size. Small enough for HiGHS in tens of
 * ms. At 1,000 x 250 and 1 s (20 rounds, A/B in one process, docs/benchmarks.md) 12 nodes and
 * 45 losers averaged +0.044 points over 24 and 90 (16 / 60: +0.04, 9 / 34: +0.017): a 24-node
 * neighbourhood around a 9-node NVLink rack took HiGHS ~170 ms to find a swap its 9- and 12-node
 * cores solve to optimality in 13-20 ms, and only ~10 solves fit in a 1 s round. At 10,000 x
 * 1,000 and 5 s, 12 / 45 lost 0.03 on all six rounds: larger rounds keep 24 / 90.
 */
const START = { small: { nodes: 12, losers: 45 }, large: { nodes: 24, losers: 90 } };
/** When no neighbourhood improves, they grow by this factor, up to MAX_NODES. */
const GROWTH = 1.5;
const MAX_NODES = 54;
/** Nodes a neighbourhood may take past its size for the gangs placed partly inside it. */
const CLOSURE = 8;
/** Most a single solve may take, so one hard neighbourhood cannot eat the phase. */
const SOLVE_MS = 60;
/** Below this left, a solve cannot get past presolve and its root LP. */
const MIN_SOLVE_MS = 15;

export interface NeighbourhoodOutcome {
  readonly allocation: Allocation;
  readonly improved: boolean;
  readonly solves: number;
}

export async function improveByNeighbourhoods(
  problem: RoundProblem,
  start: Allocation,
  backend: SolverBackend,
  options: NeighbourhoodOptions,
): Promise<NeighbourhoodOutcome> {
  const { clock, deadline } = options;
  const state = new AllocationState(problem, start);
  const byBlock = new Map<string, number[]>();
  for (const n of problem.nodes) {
    const list = byBlock.get(n.node.block);
    if (list) list.push(n.index);
    else byBlock.set(n.node.block, [n.index]);
  }
  const value = Float64Array.from(problem.bids, (b) =>
    Math.max(0, ...b.options.map((o) => (o.value - problem.nodes[o.eligible[0]].reserve) * b.bid.gpus)),
  );
  // LP-chosen losers first, then by welfare at stake: an order key over every positive value.
  const lp = options.lpWeight;
  const top = value.reduce((t, v) => Math.max(t, v), 0) + 1;
  const stake = Float64Array.from(value, (v, b) => (v > 0 && lp && lp[b] >= 0.5 ? v + top : v));
  const leasesOn = problem.nodes.map(() => [] as number[]);
  for (const l of problem.flexibleLeases) for (const s of l.shares) leasesOn[s.node].push(l.index);
  const first = START[options.scale ?? 'large'];
  let size = options.nodes ?? first.nodes;
  let loserCap = options.losers ?? first.losers;
  // Neighbourhoods solved since the nodes in them last changed, by their nodes and bids.
  const tried = new Map<string, Part>();
  let overrun = 0;
  let solves = 0;
  let improved = false;

  for (;;) {
    const losers = problem.bids
      .filter((b) => b.options.length > 0 && !state.placed[b.index] && stake[b.index] > 0)
      .map((b) => b.index)
      .sort((x, y) => stake[y] - stake[x] || x - y);
    let progressed = false;
    for (const bid of losers) {
      if (options.maxSolves !== undefined && solves >= options.maxSolves) break;
      const left = deadline - clock();
      // HiGHS overruns small MIPs' deadlines (by up to ~200 ms measured): the worst seen so far
      // in this call is kept clear of the deadline too.
      if (left < MIN_SOLVE_MS + overrun) break;
      const part = neighbourhood(problem, state, bid, { byBlock, leasesOn, stake, size, losers: loserCap });
      if (!part) continue;
      const key = partKey(part);
      if (tried.has(key)) continue;
      tried.set(key, part);
      const prepared = preparePart(problem, state, part);
      solves++;
      const solveDeadline = clock() + Math.min(left - overrun, SOLVE_MS);
      const outcome = await backend.solve({
        model: prepared.built.model,
        deadline: solveDeadline,
        start: prepared.built.start,
        seed: options.seed,
      });
      overrun = Math.max(overrun, clock() - solveDeadline);
      const better =
        outcome.colValue !== null && applyPart(problem, state, part, prepared.built.decode(outcome.colValue));
      options.onSolve?.(state.score);
      if (better) {
        improved = progressed = true;
        // Neighbourhoods over the nodes that changed may do better now; the others would solve
        // the same MIP again (1,000 x 250 at 1 s: the top loser's, unchanged, was re-solved after
        // every improvement elsewhere, up to ten times a round).
        for (const [k, p] of tried) if (k !== key && overlaps(p, part)) tried.delete(k);
        break;
      }
    }
    if (!progressed) {
      // Every neighbourhood of this size is at its optimum: grow them while time remains.
      if (size >= MAX_NODES || options.nodes !== undefined) break;
      size = Math.min(MAX_NODES, Math.round(size * GROWTH));
      loserCap = Math.round(loserCap * GROWTH);
      tried.clear();
    }
  }
  return { allocation: state.toAllocation(), improved, solves };
}

/** The nodes of `bid`'s most valuable group, grown by its block to `size`, as a part. */
function neighbourhood(
  problem: RoundProblem,
  state: AllocationState,
  bid: number,
  at: {
    byBlock: ReadonlyMap<string, readonly number[]>;
    leasesOn: readonly (readonly number[])[];
    stake: Float64Array;
    size: number;
    losers: number;
  },
): Part | null {
  const { byBlock, leasesOn, stake, size } = at;
  const { options } = problem.bids[bid];
  let seed: readonly number[] | null = null;
  let best = -Infinity;
  for (const o of options)
    for (const g of o.groups) {
      const gain = o.value - problem.nodes[g.nodes[0]].reserve;
      if (gain > best && g.nodes.length <= size) {
        best = gain;
        seed = g.nodes;
      }
    }
  if (!seed) {
    // Only wide groups (block, none): their cheapest `size` nodes.
    const o = options[0];
    seed = o.groups[0].nodes.slice(0, size);
  }
  const inScope = new Uint8Array(problem.nodes.length);
  const nodes: number[] = [];
  const add = (n: number) => {
    if (!inScope[n] && nodes.length < size) {
      inScope[n] = 1;
      nodes.push(n);
    }
  };
  seed.forEach(add);
  for (const n of seed) for (const m of byBlock.get(problem.nodes[n].node.block)!) add(m);
  // Gangs placed partly inside would hold their GPUs as fixed: their other nodes join (up to
  // CLOSURE more), so a gang spread over two blocks can be moved or dropped too (1,000 x 250 at
  // 1 s, 20 rounds: +0.03-0.04 points on average, +0.1-0.17 on five first-shape rounds).
  const limit = nodes.length + CLOSURE;
  for (const n of nodes.slice())
    for (const b of state.bidsOn[n])
      for (const s of state.placed[b]!.shares)
        if (!inScope[s.node] && nodes.length < limit) {
          inScope[s.node] = 1;
          nodes.push(s.node);
        }
  const bids = new Set<number>();
  for (const n of nodes) for (const b of state.bidsOn[n]) bids.add(b);
  const losers: number[] = [];
  for (const b of problem.bids) {
    if (b.options.length === 0 || state.placed[b.index] || stake[b.index] <= 0) continue;
    if (b.options.some((o) => o.eligible.some((n) => inScope[n]))) losers.push(b.index);
  }
  losers.sort((x, y) => stake[y] - stake[x] || x - y);
  for (const b of losers.slice(0, at.losers)) bids.add(b);
  bids.add(bid);
  // Leases wholly inside: the part decides them; the others hold their GPUs.
  const leases = new Set<number>();
  for (const n of nodes)
    for (const l of leasesOn[n]) if (problem.flexibleLeases[l].shares.every((s) => inScope[s.node])) leases.add(l);
  return {
    bids: [...bids].sort((x, y) => x - y),
    leases: [...leases].sort((x, y) => x - y),
    nodeInScope: inScope,
    nodeCount: nodes.length,
    split: true,
  };
}

/** A part's nodes and bids: the same key over an unchanged state is the same MIP. */
function partKey(part: Part): string {
  const nodes: number[] = [];
  part.nodeInScope.forEach((v, n) => (v ? nodes.push(n) : undefined));
  return `${nodes.join(',')}|${part.bids.join(',')}`;
}

function overlaps(a: Part, b: Part): boolean {
  for (let n = 0; n < a.nodeInScope.length; n++) if (a.nodeInScope[n] && b.nodeInScope[n]) return true;
  return false;
}
