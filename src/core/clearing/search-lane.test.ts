import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../solvers/highs-backend.js';
import type { Allocation } from './allocation.js';
import { checkResult } from './check-result.js';
import { clearRound } from './clear-round.js';
import { allocationScore } from './heuristics/greedy-heuristic.js';
import { allocationKey, lpPackings } from './heuristics/lp-packing.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import { buildRoundProblem, objectiveOffset } from './round-problem.js';
import { fitsProblem, laneStart, searchLane, type LaneAnswer, type SearchLane } from './search-lane.js';
import { upperBound } from './upper-bound.js';
import type { RoundSnapshot } from '../market/types.js';

const relax = async (s: RoundSnapshot) => {
  const problem = buildRoundProblem(s);
  const relaxed = await upperBound(problem, new HighsBackend(), Date.now() + 30_000, Date.now);
  if (!relaxed) throw new Error('the LP did not solve');
  return { problem, relaxed };
};

/** A lane on this thread: answers what `answer` gives for the round's own problem. */
function laneAnswering(answer: (s: RoundSnapshot) => Promise<LaneAnswer | null>): SearchLane & { opened: number } {
  const lane = {
    opened: 0,
    open(s: RoundSnapshot) {
      lane.opened++;
      return { search: () => answer(s), stop: () => undefined, close: () => undefined };
    },
  };
  return lane;
}

describe('search lane', () => {
  it('starts from a packing other than the clearing thread’s best, and searches it into a valid allocation', async () => {
    const { problem, relaxed } = await relax(mediumRound(3));
    const start = laneStart(problem, relaxed);
    expect(start).not.toBeNull();
    expect(allocationKey(start!)).not.toBe(allocationKey(lpPackings(problem, relaxed)[0]));
    const answer = searchLane(problem, relaxed, { deadline: Date.now() + 60_000, clock: Date.now })!;
    expect(answer.converged).toBe(true);
    expect(fitsProblem(problem, answer.allocation)).toBe(true);
    expect(allocationScore(problem, answer.allocation)).toBeGreaterThanOrEqual(allocationScore(problem, start!));
  });

  it('refuses an allocation from elsewhere that is not one of the round’s', async () => {
    const { problem, relaxed } = await relax(mediumRound(3));
    const good = lpPackings(problem, relaxed)[0];
    expect(fitsProblem(problem, good)).toBe(true);
    const [first, second] = good.assignments;
    const variants: Allocation[] = [
      // a bid twice
      { ...good, assignments: [...good.assignments, first] },
      // a GPU short
      { ...good, assignments: [{ ...first, shares: [{ ...first.shares[0], gpus: first.shares[0].gpus - 1 }] }] },
      // an option the bid does not have
      { ...good, assignments: [{ ...first, option: 99 }] },
      // a node that is not the round's
      { ...good, assignments: [{ ...first, shares: [{ node: 10_000, gpus: problem.bids[first.bid].bid.gpus }] }] },
      // a lease displaced twice
      { ...good, preempted: [0, 0] },
      // two gangs where there is room for one: every placed gang on the first one's nodes
      {
        ...good,
        assignments: good.assignments.map((a) => (a === second ? { ...a, shares: first.shares, option: a.option } : a)),
      },
    ];
    for (const v of variants) expect(fitsProblem(problem, v)).toBe(false);
  });

  it('the round is never worse than the lane’s answer, and records whether it took it', async () => {
    const s = mediumRound(5);
    const { problem, relaxed } = await relax(s);
    // The lane answers its own start searched to the end; 2 s leave the LP bound time to finish
    // on a loaded machine (without it the lane is not consulted).
    const answer = searchLane(problem, relaxed, { deadline: Date.now() + 60_000, clock: Date.now })!;
    const lane = laneAnswering(() => Promise.resolve(answer));
    const result = await clearRound(s, { backend: new HighsBackend(), timeLimitMs: 2_000, lane });
    expect(lane.opened).toBe(1);
    expect(['better', 'not better']).toContain(result.stats.lane);
    expect(checkResult(s, result)).toEqual([]);
    // Welfare as the round reports it: the score is relative to keeping every flexible lease.
    const kept = problem.flexibleLeases.reduce((t, l) => t + l.keepGain, 0) + objectiveOffset(problem);
    const laneWelfare = allocationScore(problem, answer.allocation) + kept;
    expect(result.welfare.toNumber()).toBeGreaterThanOrEqual(laneWelfare - 1e-4);
  });

  it('a lane that answers nonsense leaves a valid round, and one that never answers does not hold it up', async () => {
    const s = mediumRound(7);
    const overfilled = laneAnswering(async (snap) => {
      const problem = buildRoundProblem(snap);
      const node = problem.bids.find((b) => b.options.length > 0)!.options[0].groups[0].nodes[0];
      // Every live bid on one node.
      const assignments = problem.bids
        .filter((b) => b.options.length > 0)
        .map((b) => ({ bid: b.index, option: 0, shares: [{ node, gpus: b.bid.gpus }] }));
      return { allocation: { assignments, preempted: [] }, converged: true };
    });
    const silent = laneAnswering(() => new Promise<LaneAnswer | null>(() => undefined));
    for (const [lane, outcome] of [
      [overfilled, 'unfit'],
      [silent, 'no answer'],
    ] as const) {
      // Waiting on the silent lane without a limit, the round would never end (the test's timeout).
      const result = await clearRound(s, { backend: new HighsBackend(), timeLimitMs: 2_000, lane });
      expect(result.stats.lane).toBe(outcome);
      expect(checkResult(s, result)).toEqual([]);
    }
  }, 30_000);

  it('is not used in deterministic mode (results must not depend on another thread) nor in a cold round', async () => {
    const lane = laneAnswering(() => Promise.resolve(null));
    for (const mode of [
      { deterministic: true, timeLimitMs: 60_000 },
      { cold: true, timeLimitMs: 1_000 },
    ]) {
      const result = await clearRound(mediumRound(3), { backend: new HighsBackend(), ...mode, lane });
      expect(result.stats.lane).toBeUndefined();
    }
    expect(lane.opened).toBe(0);
  });
});
