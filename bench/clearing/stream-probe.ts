import { loadavg } from 'node:os';
import { checkResult } from '../../src/core/clearing/check-result.js';
import type { RoundResult, RoundSnapshot } from '../../src/core/market/types.js';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/stream-probe.js [BUDGET_MS] [REPLACED]`: two consecutive
 * rounds of a stream. The second is the first with a share REPLACED (default 0.07) of its bids
 * swapped for new ones (from another seed's round of the same shape; leases and nodes as they
 * were). The second round is cleared cold and warm-started from the first's result
 * (ClearOptions.previous), at the budget and in deterministic mode (fixed work: the bound and
 * the search run to completion), interleaved in one process.
 */
const budget = Number(process.argv[2] ?? 1000);
const replaced = Number(process.argv[3] ?? 0.07);

function nextRound(first: RoundSnapshot, donor: RoundSnapshot, seed: number): RoundSnapshot {
  let state = seed >>> 0 || 1;
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  let d = 0;
  const bids = first.bids.map((b) =>
    rnd() < replaced ? { ...donor.bids[d++ % donor.bids.length], id: `next-${d}` } : b,
  );
  return { ...first, roundId: `${first.roundId}-next`, bids };
}

const pct = (r: RoundResult) => `${((100 * r.welfare.toNumber()) / Number(r.upperBound)).toFixed(3)}%`;
for (let i = 0; i < 2; i++) await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
console.log(`load at start ${loadavg()[0].toFixed(2)}, budget ${budget} ms, ${replaced * 100}% of bids replaced`);
console.log(
  '| stream | first round | second, cold | second, warm | deterministic: cold (time) | deterministic: warm (time) |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
const streams = [
  ['instance 42', (s: number) => generateInstance(1000, 250, s), 42],
  ['instance 7', (s: number) => generateInstance(1000, 250, s), 7],
  ['instance 1', (s: number) => generateInstance(1000, 250, s), 1],
  ['contested 1', (s: number) => generateContested(1000, 250, s), 1],
  ['contested 2', (s: number) => generateContested(1000, 250, s), 2],
  ['contested 3', (s: number) => generateContested(1000, 250, s), 3],
] as const;
for (const [name, make, seed] of streams) {
  const first = make(seed);
  const second = nextRound(first, make(seed + 100), seed);
  const r1 = await clearWithSolver(first, { timeLimitMs: budget, seed: 42 });
  const previous = { placements: r1.placements, preempted: r1.preempted };
  const cold = await clearWithSolver(second, { timeLimitMs: budget, seed: 42 });
  const warm = await clearWithSolver(second, { timeLimitMs: budget, seed: 42, previous });
  const fixed = { timeLimitMs: 20_000, seed: 42, deterministic: true };
  const dCold = await clearWithSolver(second, fixed);
  const dWarm = await clearWithSolver(second, { ...fixed, previous });
  const valid = [cold, warm, dCold, dWarm].every((r) => checkResult(second, r).length === 0) ? '' : ' INVALID';
  console.log(
    `| ${name} | ${pct(r1)} | ${pct(cold)} | ${pct(warm)}${valid} | ${pct(dCold)} (${dCold.stats.solveMs} ms) | ${pct(dWarm)} (${dWarm.stats.solveMs} ms) |`,
  );
}
console.log(`load at end ${loadavg()[0].toFixed(2)}`);
