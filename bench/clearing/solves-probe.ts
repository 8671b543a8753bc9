import { clearRound } from '../../src/core/clearing/clear-round.js';
import type { SolveRequest, SolverBackend } from '../../src/core/clearing/solver-port.js';
import { HighsBackend } from '../../src/core/solvers/highs-backend.js';
import { generateInstance } from './generate-instance.js';
import { probeRounds } from './probe-rounds.js';

/**
 * `node dist/bench/bench/clearing/solves-probe.js ROUND [MS]` after `npm run bench:clearing`:
 * every HiGHS solve of a probe round cleared warm with a budget of MS (default 1000), in order:
 * time taken / time allowed, model size (columns x rows), status, and the objective gained over
 * the start it was given (the neighbourhoods' and MIP parts' solves; the LP bound's and the
 * price LP's have no start). Shows which neighbourhoods pay and which time out.
 */
const only = process.argv[2] ?? 'instance 7';
const budget = Number(process.argv[3] ?? 1000);
const highs = new HighsBackend();
let solves: string[] = [];
const traced: SolverBackend = {
  name: highs.name,
  async solve(request: SolveRequest) {
    const started = Date.now();
    const outcome = await highs.solve(request);
    const { model, start } = request;
    let gain = '';
    if (start && outcome.objective !== null) {
      let from = 0;
      for (let c = 0; c < model.numCols; c++) from += model.colCost[c] * start[c];
      gain = ` ${(outcome.objective - from).toFixed(2)}`;
    }
    const allowed = Math.round(request.deadline - started);
    solves.push(`${Date.now() - started}/${allowed} ms ${model.numCols}x${model.numRows} ${outcome.status}${gain}`);
    return outcome;
  },
};
await clearRound(generateInstance(300, 100, 43), { backend: traced, timeLimitMs: 3_000 });
for (const [name, snapshot] of probeRounds()) {
  if (!name.startsWith(only)) continue;
  solves = [];
  const r = await clearRound(snapshot, { backend: traced, timeLimitMs: budget, seed: 42 });
  const ratio = (100 * r.welfare.toNumber()) / Number(r.upperBound);
  console.log(`${name}: ${ratio.toFixed(3)}% of the bound, ${JSON.stringify(r.stats.phases)}`);
  for (const line of solves) console.log(`  ${line}`);
}
