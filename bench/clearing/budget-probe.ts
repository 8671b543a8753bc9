import { loadavg } from 'node:os';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { generateInstance } from './generate-instance.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/budget-probe.js MS [BIDS NODES] [ROUND]` after
 * `npm run bench:clearing`: the six probe rounds (or those whose name starts with ROUND, e.g.
 * "contested 3") cleared with a budget of MS, in one process warmed as the bench warms its own
 * (one 300 x 100 round first): welfare over the LP bound, the round's time and its phases.
 * NEIGHBOURHOODS=off clears without the MIP neighbourhoods.
 */
const budget = Number(process.argv[2] ?? 1000);
const bids = Number(process.argv[3] ?? 1000);
const nodes = Number(process.argv[4] ?? 250);
const only = process.argv[5];
await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
console.log(`load at start ${loadavg()[0].toFixed(2)}, budget ${budget} ms, ${bids} x ${nodes}`);
for (const [name, snapshot] of probeRounds(bids, nodes)) {
  if (only && !name.startsWith(only)) continue;
  const started = Date.now();
  const neighbourhoods = process.env.NEIGHBOURHOODS !== 'off';
  const r = await clearWithSolver(snapshot, { timeLimitMs: budget, seed: 42, neighbourhoods });
  const ratio = (100 * r.welfare.toNumber()) / Number(r.upperBound);
  console.log(`${name}: ${ratio.toFixed(3)}%, ${Date.now() - started} ms, ${JSON.stringify(r.stats.phases)}`);
}
