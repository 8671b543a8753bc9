import { loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { SearchLaneThread } from '../../src/platform/search-lane/search-lane.js';
import { generateContested } from './generate-contested.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/ab-probe.js BASE_DIST BUDGET BIDS NODES SEEDS`: each round
 * cleared by the engine compiled at BASE_DIST (another checkout's dist/bench) and by this one,
 * interleaved in one process: welfare over the LP bound. `--lane` gives this one's rounds a
 * search lane (src/platform/search-lane); with BASE_DIST this checkout's own dist/bench, that
 * compares the same engine with and without it; `--lanes` gives the base's rounds a lane of their own build too.
 */
const [base, budgetArg, bidsArg, nodesArg, seedsArg] = process.argv.slice(2).filter((a) => !a.startsWith('--lane'));
const lane = process.argv.some((a) => a.startsWith('--lane')) ? new SearchLaneThread() : undefined;
// `--lanes`: the base's rounds get a lane too, its own build's.
const baseLane = process.argv.includes('--lanes')
  ? new (
      (await import(`${base}/src/platform/search-lane/search-lane.js`)) as { SearchLaneThread: typeof SearchLaneThread }
    ).SearchLaneThread()
  : undefined;
const other = (await import(`${base}/src/core/solvers/solver-for.js`)) as { clearWithSolver: typeof clearWithSolver };
const budget = Number(budgetArg ?? 1000);
const bids = Number(bidsArg ?? 1000);
const nodes = Number(nodesArg ?? 250);
const seeds = (seedsArg ?? '1,2,3,4,5,6,7,8').split(',').map(Number);
for (const f of [other.clearWithSolver, clearWithSolver])
  await f(generateInstance(300, 100, 43), { timeLimitMs: 3_000, lane: f === clearWithSolver ? lane : baseLane });
console.log(`load ${loadavg()[0].toFixed(2)}, ${bids} x ${nodes}, ${budget} ms: base | this`);
const sums = [0, 0];
let n = 0;
for (const seed of seeds)
  for (const [shape, gen] of [
    ['instance', generateInstance],
    ['contested', generateContested],
  ] as const) {
    const snapshot = gen(bids, nodes, seed);
    const cells: string[] = [];
    for (const [i, f] of [other.clearWithSolver, clearWithSolver].entries()) {
      const r = await f(snapshot, { timeLimitMs: budget, seed: 42, lane: i === 1 ? lane : baseLane });
      const ratio = (100 * r.welfare.toNumber()) / Number(r.upperBound);
      sums[i] += ratio;
      cells.push(
        `${ratio.toFixed(3)} (${r.stats.solveMs} ms${r.stats.lane ? `, lane ${String(r.stats.lane)} ${r.stats.phases.lane}ms s${r.stats.phases.search}` : ''})`,
      );
    }
    n++;
    console.log(`${shape} ${seed}: ${cells.join(' | ')}`);
  }
console.log(`mean: ${sums.map((s) => (s / n).toFixed(3)).join(' | ')}; load ${loadavg()[0].toFixed(2)}`);
await Promise.all([lane?.close(), baseLane?.close()]);
