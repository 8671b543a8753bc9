import { probeRounds } from './probe-rounds.js';
import { loadavg } from 'node:os';
import { buildRoundProblem } from '../../src/core/clearing/round-problem.js';
import { upperBound } from '../../src/core/clearing/upper-bound.js';
import type { RoundProblem } from '../../src/core/clearing/round-problem.js';
import type { RoundSnapshot } from '../../src/core/market/types.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/bound-probe.js [small|mid|big]` after `npm run bench:clearing`:
 * the LP bound of each round (phase 5 alone, no deadline), its time and pricing iterations, and
 * the bids the LP takes only in part, by contiguity and gang size: where the bound is loose.
 * small: the six 1,000 x 250 rounds; mid: contested 10,000 x 1,000 seeds 1-3; big: contested
 * 50,000 x 5,000 seed 1; instances: the first shape's 10,000 x 1,000 seeds 42, 7, 1;
 * big-instance: its 50,000 x 5,000 seed 42. `--branch`: then, four times, the bound again with the
 * bids of 32 GPUs or more that the last LP took in part left out (a branch where none of them
 * wins), to see how fast such a branch lowers the bound.
 */
const highs = new HighsBackend();
const which = process.argv[2] ?? 'small';
const rounds: [string, RoundSnapshot][] =
  which === 'small'
    ? probeRounds()
    : which === 'instances'
      ? [42, 7, 1].map((s): [string, RoundSnapshot] => [`instance 10k ${s}`, generateInstance(10000, 1000, s)])
      : which === 'mid'
        ? [1, 2, 3].map((s): [string, RoundSnapshot] => [`contested 10k ${s}`, generateContested(10000, 1000, s)])
        : which === 'big-instance'
          ? [[`instance 50k 42`, generateInstance(50000, 5000, 42)]]
          : [[`contested 50k 1`, generateContested(50000, 5000, 1)]];
await upperBound(buildRoundProblem(generateInstance(300, 100, 43)), highs, Date.now() + 60_000, Date.now);
console.log(`load at start ${loadavg()[0].toFixed(2)}`);
for (const [name, snap] of rounds) {
  const problem = buildRoundProblem(snap);
  const started = Date.now();
  const r = (await upperBound(problem, highs, Date.now() + 600_000, Date.now))!;
  const ms = Date.now() - started;
  const fractional = new Map<string, { bids: number; gpus: number }>();
  r.bidOptions.forEach((options, i) => {
    const x = options.reduce((t, v) => t + v, 0);
    if (x < 1e-6 || x > 1 - 1e-6) return;
    const { contiguity, gpus } = problem.bids[i].bid;
    const e = fractional.get(`${contiguity}:${gpus}`) ?? { bids: 0, gpus: 0 };
    e.bids++;
    e.gpus += x * gpus;
    fractional.set(`${contiguity}:${gpus}`, e);
  });
  if (process.argv.includes('--branch')) await branch(problem);
  const parts = [...fractional].map(([k, e]) => `${k} ${e.bids} bids (${e.gpus.toFixed(1)} GPUs)`).join(', ');
  const leases = [...r.keep].filter((v) => v > 1e-6 && v < 1 - 1e-6).length;
  console.log(
    `${name}: bound ${r.bound.toFixed(4)}, ${r.complete ? 'complete' : 'cut short'}, ${r.iterations} LPs, ${ms} ms, ` +
      `RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB; taken in part: ${parts || 'none'}; leases kept in part: ${leases}`,
  );
}

/** Bids the relaxed solution takes strictly between 0 and 1. */
function takenInPart(bidOptions: readonly Float64Array[]): number[] {
  const out: number[] = [];
  bidOptions.forEach((options, i) => {
    const x = options.reduce((t, v) => t + v, 0);
    if (x > 1e-6 && x < 1 - 1e-6) out.push(i);
  });
  return out;
}

async function branch(problem: RoundProblem): Promise<void> {
  const dropped = new Set<number>();
  let last = (await upperBound(problem, highs, Date.now() + 600_000, Date.now))!;
  for (let step = 0; step < 4; step++) {
    for (const i of takenInPart(last.bidOptions)) if (problem.bids[i].bid.gpus >= 32) dropped.add(i);
    const without = { ...problem, bids: problem.bids.map((b) => (dropped.has(b.index) ? { ...b, options: [] } : b)) };
    last = (await upperBound(without, highs, Date.now() + 600_000, Date.now))!;
    console.log(`  without ${dropped.size} big bids taken in part: bound ${last.bound.toFixed(2)}`);
  }
}
