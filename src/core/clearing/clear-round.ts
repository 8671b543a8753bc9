import { Money } from '../money/money.js';
import type { Loss, PricedPlacement, RoundResult, RoundSnapshot, RoundStatus } from '../market/types.js';
import {
  allocationScore,
  densityOrder,
  freeWithAllLeases,
  greedyAllocate,
  greedyFill,
} from './heuristics/greedy-heuristic.js';
import type { Allocation } from './allocation.js';
import { recomputeWelfare } from './check-result.js';
import type { Clock } from './clock.js';
import { improveLocally } from './heuristics/local-search.js';
import { previousAllocation, type PreviousRound } from './heuristics/previous-allocation.js';
import { lpPackings } from './heuristics/lp-packing.js';
import { repackRacks } from './heuristics/repack-racks.js';
import { improveByNeighbourhoods } from './improve-neighbourhoods.js';
import { improveByParts } from './improve-parts.js';
import { improveBySupport, supportBids } from './improve-support.js';
import { priceRound, type RoundPrices } from './price-round.js';
import { buildRoundProblem, objectiveOffset } from './round-problem.js';
import type { RoundProblem } from './round-problem.js';
import type { SolverBackend } from './solver-port.js';
import { fitsProblem, type SearchLane } from './search-lane.js';
import { upperBound, type RelaxedSolution } from './upper-bound.js';

export interface ClearOptions {
  /** Wall-clock budget for the whole round; default 10,000 ms. */
  timeLimitMs?: number;
  /**
   * Solves the LP bound, the MIP phase's parts and the price LP. The caller chooses it
   * (src/core/solvers: `solverFor` by name, HiGHS or javascript-lp-solver); null runs the
   * heuristics alone and prices by the envy-free levels (the "greedy" mode).
   */
  backend: SolverBackend | null;
  /**
   * Where time comes from, in milliseconds; default Date.now. Every deadline of the round is on
   * it, including those handed to `backend`, which must read the same clock.
   */
  clock?: Clock;
  seed?: number;
  /**
   * The same snapshot and options give the same result: the LP bound and the local search run
   * to completion instead of to a share of the budget, and the MIP phase (whose progress
   * depends on the clock) is skipped. `timeLimitMs` still caps a runaway round, and
   * `stats.cutShort` says when it did. For replays and the simulator.
   */
  deterministic?: boolean;
  /**
   * Solves the MIP phase's parts instead of the round's own backend: a pool of worker threads
   * (src/platform/solver-pool) keeps one part in flight per thread. Its caller owns and closes it.
   */
  partsSolver?: SolverBackend;
  /**
   * MIP neighbourhoods (improve-neighbourhoods.ts) between two runs of the local search and in
   * the time the MIP parts leave; default true (rounds of at most 2,000 live bids, not in
   * deterministic mode). Off gives the engine as it was before them, for benchmarks.
   */
  neighbourhoods?: boolean;
  /**
   * The previous round's placements (and the leases it displaced): those of bids still open that
   * are still valid seed one more start allocation, kept when it beats the greedy and the LP
   * packing (heuristics/previous-allocation.ts). For a service that clears a similar round each minute.
   */
  previous?: PreviousRound;
  /**
   * The process has not cleared a round yet (a one-shot `gpumarket clear`, a clearing thread's
   * first round): more of the budget is kept for the fill and the prices, whose code is still
   * cold (COLD_TAIL_SHARE).
   */
  cold?: boolean;
  /**
   * A thread that runs the first local search from another start beside this one's
   * (search-lane.ts); the round goes on from the better of the two. Rounds of at most
   * MAX_LANE_BIDS bids, not in deterministic mode nor a cold round. Its caller owns and closes it.
   */
  lane?: SearchLane;
}

/** Shares of the budget left at the start of a phase that the phase may use. */
const BOUND_SHARE = 0.6;
/**
 * The bound's share in a cold round (ClearOptions.cold), whose HiGHS runs in baseline code: the
 * bound phase that takes 50-140 ms warm took 370-580 ms (`stats.phases.bound`) in fresh
 * `gpumarket clear` processes at 1 s (1,000 x 250), and cut short before its first LP is
 * solved it leaves no packing, only the greedy's search (93-97% of the optimum). With 0.6, 9 of
 * 24 fresh rounds ended below 97.5% of their optimum; with 0.8, none (docs/benchmarks.md,
 * "Cold rounds"). A bound that finishes sooner leaves the rest to the search: the share is a
 * deadline, not a reservation.
 */
const COLD_BOUND_SHARE = 0.8;
/**
 * The LP packing's further tries (lp-packing.ts) stop at this share of what is left: all four at
 * 1,000 bids (5-20 ms each), two or three at 10,000 with 5 s, one at 50,000 (3 s each).
 */
const PACKING_SHARE = 0.1;
const SEARCH_SHARE = 0.7;
/**
 * The MIP phase needs presolve and a root LP before it can improve anything, and HiGHS' own
 * time limit is soft: with less than this left it only overruns the round.
 */
const MIN_MIP_MS = 500;
/**
 * Above this many live bids the MIP parts do not beat the local search inside a round's budget
 * (measured: 10,000 and 50,000 bids), so the search and the MIP neighbourhoods share it.
 */
const MAX_MIP_BIDS = 2_000;
/**
 * Share of the budget kept for the leftover fill and the prices (measured at 10,000 bids: the
 * price phase takes 5-8% of the round on a quiet machine; past the deadline its LP gives way to
 * its envy-free anchor).
 */
const TAIL_SHARE = 0.15;
/**
 * The same for a cold round (ClearOptions.cold): its fill and price code has not been optimised
 * by the JavaScript engine yet. Measured in fresh `gpumarket clear` processes at 1 s on the
 * 1,000 x 250 rounds (7 Dec, a slower host than the day before): the pricing demand took
 * 50-130 ms, the envy-free levels 64-124 and the description 16-29, against 8, 7-10 and 3 warm;
 * with 0.2, 14 of 24 fresh rounds ended 11-135 ms past the budget; with 0.25, 3 of 24 (4-22 ms);
 * with 0.28, none of 24, at the same welfare (docs/benchmarks.md, "Cold rounds").
 */
const COLD_TAIL_SHARE = 0.28;
/**
 * The tail is at least this many times what the round's candidates took to build: the fill, the
 * prices and the result scale with the bids and their candidates, and so does that phase, on
 * whatever machine and load the round meets. Measured (7 Dec 17:00, warm, quiet): fill, prices
 * and result took 2.4-3.0 times the candidates at 1,000 and 10,000 bids and 3.3 at 50,000, where
 * the price LP then ran into the deadline (50,000 x 5,000 at 20 s: candidates 1,039 ms, fill 450,
 * the pricing demand 615, the LP cut at the deadline after ~1,900, the description 286, the
 * result 92; its 15% tail of 3 s left it 385 ms late). Where the shares already keep more (1 s
 * rounds), nothing changes.
 */
const TAIL_PER_CANDIDATES_MS = 4;
/** The tail never takes more than this share of the budget from the searching phases. */
const MAX_TAIL_SHARE = 0.4;
/**
 * The LP-support MIP (improve-support.ts) runs with at least this long left for it, on at most
 * this many bids, and takes the time the MIP parts would. Measured on 1,000 x 250 (first shape,
 * 155-246 bids in the support; `ab-probe.js`, 7 Dec 17:05-17:40): with ~2 s (3 s budgets) it
 * gained 0.09-0.62 points on seven of 32 rounds and lost 0.14-0.42 on five where it found
 * nothing in time and the parts would have; with these limits at 5 s, +0.057 points on average
 * over held-out seeds 17-24 (one round -0.12), at 10 s +0.038 over seeds 5-8 (none worse). Over
 * 300 bids HiGHS did not find its improvements in time: contested 1,000 x 250 (385-518 bids)
 * mostly nothing in 3.5 s, 2,000 x 500 (379-391 bids) -0.17 and -0.15 at 5 s, +0.03 and -0.25
 * at 10 s (docs/benchmarks.md, "The LP-support MIP").
 */
const MIN_SUPPORT_MS = 3_000;
const MAX_SUPPORT_BIDS = 300;
/** Below this left before the tail, a neighbourhood's MIP cannot get past its root LP. */
const MIN_NEIGHBOURHOOD_MS = 30;
/**
 * HiGHS overruns a small MIP's deadline by up to ~200 ms (measured on the 1,000 x 250 rounds:
 * 60 ms asked, 250-290 ms taken, with every heuristic, presolve or symmetry option tried), so no
 * neighbourhood starts this close to the tail.
 */
const NEIGHBOURHOOD_RESERVE_MS = 100;
/**
 * Rounds above this many bids clear without the search lane (docs/benchmarks.md, "The search
 * lane"): at 10,000 x 1,000 and 5 s it answered in time in 1 of 6 rounds (its own candidates and
 * five packings take much of the first search's time there), and its copy of the round grows
 * with it (a second problem in memory at 50,000 bids, where the goal is 1 GB in all).
 */
const MAX_LANE_BIDS = 2_000;
/** How long past the lane's own time the clearing thread waits for its answer. */
const LANE_WAIT_MS = 20;
/**
 * With neighbourhoods on: the first search's share, then the neighbourhoods' share of what is
 * left when the search did not converge in its own. Rounds the MIP parts may clear (up to
 * MAX_MIP_BIDS live bids), measured on the 1,000 x 250 rounds at 1 s: 0.6 and 0.35 never did
 * worse than the search alone; a depth-1 first search gained more on the contested rounds but
 * lost 0.09 points on one. Larger rounds, measured at 10,000 x 1,000 (docs/benchmarks.md): on
 * the contested shape the search gains ~0.02 points a second after its first 250 ms while the
 * neighbourhoods (tens of ms each) gain ~0.1 in their first second; on the first shape the
 * search keeps gaining for 2-3 s. 0.7 and 0.9: contested -0.02 to +0.11 points over the search
 * alone, the first shape -0.04 to +0.02; a first share of 0.3 gained more on the contested rounds
 * (+0.13) but lost 0.05-0.16 on the first shape.
 */
const FIRST_SEARCH_SHARE = { small: 0.6, large: 0.7 };
const NEIGHBOURHOOD_SHARE = { small: 0.35, large: 0.9 };

class PhaseClock {
  readonly phases: Record<string, number> = {};
  private last: number;
  constructor(private readonly now: Clock) {
    this.last = now();
  }
  lap(name: string): void {
    const now = this.now();
    this.phases[name] = (this.phases[name] ?? 0) + (now - this.last);
    this.last = now;
  }
}

/** The final greedy pass: leftover bids into leftover capacity, so seams between parts cost little. */
function fillLeftovers(
  problem: RoundProblem,
  allocation: Allocation,
): { allocation: Allocation; free: Int32Array; added: number } {
  const free = freeWithAllLeases(problem);
  for (const l of allocation.preempted) for (const s of problem.flexibleLeases[l].shares) free[s.node] += s.gpus;
  for (const a of allocation.assignments) for (const s of a.shares) free[s.node] -= s.gpus;
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  const rest = problem.bids.filter((b) => b.options.length > 0 && !placed.has(b.index)).map((b) => b.index);
  const added = greedyFill(problem, densityOrder(problem, rest), free);
  return {
    allocation: { assignments: [...allocation.assignments, ...added], preempted: allocation.preempted },
    free,
    added: added.length,
  };
}

function toResult(
  problem: RoundProblem,
  allocation: Allocation,
  prices: RoundPrices,
): Pick<
  RoundResult,
  'placements' | 'kept' | 'preempted' | 'losses' | 'prices' | 'nodePrices' | 'keptPrices' | 'paradoxicallyRejected'
> {
  const { snapshot } = problem;
  const byBid = new Map(allocation.assignments.map((a) => [a.bid, a]));
  const placements: PricedPlacement[] = [];
  const losses: Loss[] = [];
  for (const b of problem.bids) {
    const a = byBid.get(b.index);
    if (!a) {
      losses.push({ bidId: b.bid.id, reason: b.loss ?? 'outbid' });
      continue;
    }
    const shares = [...a.shares].sort((x, y) => x.node - y.node);
    const priced = prices.placementPrices.get(b.bid.id)!;
    placements.push({
      bidId: b.bid.id,
      gpuModel: b.options[a.option].gpuModel,
      nodes: shares.map((s) => ({ node: problem.nodes[s.node].node.id, gpus: s.gpus })),
      ...priced,
    });
  }
  const displaced = new Set(allocation.preempted.map((l) => problem.flexibleLeases[l].lease.id));
  return {
    placements,
    losses,
    kept: snapshot.leases.filter((l) => !displaced.has(l.id)).map((l) => l.id),
    preempted: snapshot.leases.filter((l) => displaced.has(l.id)).map((l) => l.id),
    prices: prices.pools,
    nodePrices: prices.nodePrices,
    keptPrices: prices.keptPrices,
    paradoxicallyRejected: prices.paradoxicallyRejected,
  };
}

/**
 * Clears one round, in the phases of docs/clearing.md: candidates, greedy, LP bound, LP
 * packing, local search, MIP by parts, leftover fill, prices. Pure: the snapshot is read,
 * never written. Each phase starts from the best allocation so far and keeps it unless it finds
 * a better one, so the result is never worse than the greedy.
 */
export async function clearRound(snapshot: RoundSnapshot, options: ClearOptions): Promise<RoundResult> {
  const now = options.clock ?? Date.now;
  const started = now();
  const limit = options.timeLimitMs ?? 10_000;
  const deadline = started + limit;
  const seed = options.seed ?? 0;
  const deterministic = options.deterministic ?? false;
  const clock = new PhaseClock(now);
  let laneOutcome: 'better' | 'not better' | 'no answer' | 'unfit' | undefined;
  const problem = buildRoundProblem(snapshot);
  clock.lap('candidates');
  // The lane builds its own copy of the round's candidates while this thread runs the greedy and
  // the LP. Not in a cold round: in fresh 1 s processes the lane's thread, as cold as this one,
  // answered in time in 1 of 24 rounds and slowed this one by up to 4 points (docs/benchmarks.md).
  const lane =
    options.lane && !deterministic && !options.cold && snapshot.bids.length <= MAX_LANE_BIDS
      ? options.lane.open(snapshot)
      : null;
  // The searching phases stop early enough for the fill and the prices, which cannot be cut
  // short: a share of the budget, or more where this round's own speed says they need it.
  const tailMs = Math.min(
    MAX_TAIL_SHARE * limit,
    Math.max((options.cold ? COLD_TAIL_SHARE : TAIL_SHARE) * limit, TAIL_PER_CANDIDATES_MS * clock.phases.candidates),
  );
  const work = deadline - tailMs;
  const share = (fraction: number) => (deterministic ? deadline : now() + Math.max(0, work - now()) * fraction);
  let allocation = greedyAllocate(problem);
  clock.lap('heuristic');
  const heuristicWelfare = allocationScore(problem, allocation) + keptWelfare(problem);

  const { backend } = options;
  const hasDecisions = problem.bids.some((b) => b.options.length > 0) || problem.flexibleLeases.length > 0;

  let bound: number | null = null;
  let boundComplete = false;
  let lpWeight: Float64Array | undefined;
  let relaxedSolution: RelaxedSolution | null = null;
  let otherPackings: Allocation[] = [];
  const better = (candidate: Allocation) =>
    allocationScore(problem, candidate) > allocationScore(problem, allocation) + 1e-9;
  const meetsBound = () =>
    bound !== null &&
    allocationScore(problem, allocation) + keptWelfare(problem) >= bound - 1e-6 * Math.max(1, Math.abs(bound));
  if (backend && hasDecisions) {
    const relaxed = await upperBound(problem, backend, share(options.cold ? COLD_BOUND_SHARE : BOUND_SHARE), now);
    clock.lap('bound');
    if (relaxed) {
      relaxedSolution = relaxed;
      bound = relaxed.bound;
      boundComplete = relaxed.complete;
      lpWeight = Float64Array.from(relaxed.bidOptions, (o) => o.reduce((t, v) => t + v, 0));
      const [packed, ...others] = lpPackings(
        problem,
        relaxed,
        deterministic ? {} : { deadline: share(PACKING_SHARE), clock: now },
      );
      if (better(packed)) allocation = packed;
      otherPackings = others;
      clock.lap('packing');
    }
  }
  if (options.previous) {
    // Last round's placements that still hold, the rest placed as the LP packing would.
    const warm = previousAllocation(problem, options.previous, lpWeight);
    if (better(warm)) allocation = warm;
    clock.lap('previous');
  }
  const liveBids = problem.bids.reduce((t, b) => t + (b.options.length > 0 ? 1 : 0), 0);
  const mipWorthIt = backend !== null && !deterministic && liveBids <= MAX_MIP_BIDS;
  const partsBackend = options.partsSolver ?? backend;
  // Parts solved side by side each get the time one lane would share among them.
  const minMipMs = MIN_MIP_MS / Math.max(1, Math.floor(partsBackend?.concurrency ?? 1));
  let parts = 0;
  // Small MIPs over a few nodes (improve-neighbourhoods.ts), at every size: at 10,000-50,000 bids
  // they re-pack what the search leaves (+0.02 to +0.14 points at 10,000, measured).
  const neighbourhoods = backend !== null && !deterministic && (options.neighbourhoods ?? true);
  const size = liveBids <= MAX_MIP_BIDS ? 'small' : 'large';
  if (hasDecisions && !meetsBound()) {
    // The MIP runs only with MIN_MIP_MS left after the search's share: when it would not, the
    // search keeps the whole remainder instead of leaving it idle (at 1 s, a third of the round).
    const mipWillRun = mipWorthIt && (work - now()) * (1 - SEARCH_SHARE) >= minMipMs;
    // Where the MIP parts will not run (at 1 s), the search stops at a share, MIP neighbourhoods
    // re-pack what it left, and the search resumes from their result (improve-neighbourhoods.ts).
    // Where they will, the parts keep their time (the neighbourhoods cost the parts up to 0.06
    // points at 3 s, measured) and the neighbourhoods only use what the parts leave, below.
    const lnsOn = neighbourhoods && !mipWillRun;
    const searchDeadline = share(lnsOn ? FIRST_SEARCH_SHARE[size] : mipWillRun ? SEARCH_SHARE : 1);
    const laneAnswer = lane && relaxedSolution ? lane.search(relaxedSolution, searchDeadline - now()) : null;
    allocation = improveLocally(problem, allocation, { deadline: searchDeadline, clock: now });
    if (size === 'small') {
      // NVLink racks re-packed whole (heuristics/repack-racks.ts), then the search from there.
      // A few ms at 1,000 bids; at 10,000 its first version (gangs put back by value per GPU)
      // took ~100 ms and gained nothing measurable, so it runs in the rounds the MIP phase may clear.
      clock.lap('search');
      const repacked = repackRacks(problem, allocation, { deadline: work, clock: now });
      if (repacked.improved)
        allocation = improveLocally(problem, repacked.allocation, { deadline: searchDeadline, clock: now });
      clock.lap('racks');
    }
    let converged = now() < searchDeadline;
    if (lane && laneAnswer) {
      clock.lap('search');
      // This search converged early: the lane answers with what it has, so that the time left
      // goes to the neighbourhoods from the better of the two.
      if (converged) lane.stop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answer = await Promise.race([
        laneAnswer.catch(() => null),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), Math.max(0, searchDeadline - now()) + LANE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      const fits = answer !== null && fitsProblem(problem, answer.allocation);
      laneOutcome =
        answer === null ? 'no answer' : !fits ? 'unfit' : better(answer.allocation) ? 'better' : 'not better';
      if (answer && laneOutcome === 'better') {
        allocation = answer.allocation;
        converged = answer.converged;
      }
      clock.lap('lane');
    }
    if (deterministic && size === 'small') {
      // With no neighbourhoods to leave a poor start's basin, the search runs from every packing
      // (mid-sized test rounds: the best packing searched ends 98.5% to 99.9% of the bound, and
      // the best of the four searched 99.45-99.95%).
      for (const start of otherPackings) {
        const searched = improveLocally(problem, start, { deadline: searchDeadline, clock: now });
        if (better(searched)) allocation = searched;
      }
    }
    if (lnsOn && backend) {
      clock.lap('search');
      // A search that converged before its share has nothing to resume: the neighbourhoods may take the rest.
      const lns = await improveByNeighbourhoods(problem, allocation, backend, {
        deadline: converged ? work - NEIGHBOURHOOD_RESERVE_MS : share(NEIGHBOURHOOD_SHARE[size]),
        clock: now,
        seed,
        lpWeight,
        scale: size,
      });
      clock.lap('neighbourhoods');
      if (lns.improved || !converged)
        allocation = improveLocally(problem, lns.allocation, {
          deadline: share(1),
          clock: now,
        });
    }
    clock.lap('search');
  }
  let proven = backend !== null && meetsBound();
  // The LP-support MIP (improve-support.ts), where it is small enough to pay inside the time left.
  const support =
    lpWeight && mipWorthIt && work - now() >= MIN_SUPPORT_MS ? supportBids(problem, allocation, lpWeight) : [];
  if (backend && hasDecisions && !meetsBound() && support.length > 0 && support.length <= MAX_SUPPORT_BIDS) {
    const solved = await improveBySupport(problem, allocation, support, backend, { deadline: work, clock: now, seed });
    clock.lap('support');
    if (solved.improved) {
      allocation = improveLocally(problem, solved.allocation, { deadline: work, clock: now });
      clock.lap('search');
    }
  }
  if (partsBackend && mipWorthIt && hasDecisions && !meetsBound() && work - now() >= minMipMs) {
    const solved = await improveByParts(problem, allocation, partsBackend, work, seed, now);
    clock.lap('mip');
    parts = solved.parts;
    proven = solved.proven;
    if (solved.improved) {
      allocation = improveLocally(problem, solved.allocation, { deadline: work, clock: now });
      clock.lap('search');
    }
  }
  if (
    backend &&
    neighbourhoods &&
    hasDecisions &&
    !meetsBound() &&
    work - now() >= MIN_NEIGHBOURHOOD_MS + NEIGHBOURHOOD_RESERVE_MS
  ) {
    // The search has converged (or the MIP parts ran) with time to spare: re-pack a few nodes at a time.
    const lns = await improveByNeighbourhoods(problem, allocation, backend, {
      deadline: work - NEIGHBOURHOOD_RESERVE_MS,
      clock: now,
      seed,
      lpWeight,
      scale: size,
    });
    clock.lap('neighbourhoods');
    if (lns.improved) {
      allocation = improveLocally(problem, lns.allocation, { deadline: work, clock: now });
      clock.lap('search');
    }
  }
  lane?.close();
  const filled = fillLeftovers(problem, allocation);
  clock.lap('fill');
  const prices = await priceRound(problem, filled.allocation, { backend, deadline, clock: now, cold: options.cold });
  clock.lap('price');
  const decided = toResult(problem, filled.allocation, prices);

  const welfare = recomputeWelfare(snapshot, decided);
  // Proven optimal: every part solved to optimality unsplit and unpruned, or welfare meeting the LP bound.
  const reachesBound = bound !== null && welfare.toNumber() >= bound - 1e-6 * Math.max(1, Math.abs(bound));
  const status: RoundStatus =
    backend && ((proven && filled.added === 0) || reachesBound) ? 'optimal' : bound !== null ? 'feasible' : 'heuristic';
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
      solveMs: now() - started,
      candidates: problem.candidateCount,
      phases: clock.phases,
      parts,
      heuristicWelfare,
      pricing: prices.stats,
      boundComplete,
      cutShort: now() > deadline,
      ...(laneOutcome ? { lane: laneOutcome } : {}),
    },
  };
}

/** Welfare of keeping every flexible lease with no bid placed: allocation scores are relative to it. */
function keptWelfare(problem: RoundProblem): number {
  return problem.flexibleLeases.reduce((t, l) => t + l.keepGain, 0) + objectiveOffset(problem);
}
