import { probeRounds } from './probe-rounds.js';
import { loadavg } from 'node:os';
import { checkResult } from '../../src/core/clearing/check-result.js';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { generateInstance } from './generate-instance.js';

/**
 * `node dist/bench/bench/clearing/neighbourhoods-probe.js [BUDGET_MS] [REPS] [BIDS NODES]`: each
 * round cleared without and with the MIP neighbourhoods (ClearOptions.neighbourhoods), in one
 * process, interleaved, so both see the same machine load. Welfare over the LP bound, the round's
 * time and the neighbourhood phase's time.
 */
const budget = Number(process.argv[2] ?? 1000);
const reps = Number(process.argv[3] ?? 2);
const bids = Number(process.argv[4] ?? 1000);
const nodes = Number(process.argv[5] ?? 250);
for (let i = 0; i < 2; i++) await clearWithSolver(generateInstance(300, 100, 43), { timeLimitMs: 3_000 });
console.log(`load at start ${loadavg()[0].toFixed(2)}, budget ${budget} ms, ${bids} x ${nodes}`);
console.log('| round | without: welfare / UB, time | with: welfare / UB, time (neighbourhoods ms) |');
console.log('| --- | --- | --- |');
for (const [name, snapshot] of probeRounds(bids, nodes)) {
  const modes = [false, true];
  const cells: string[][] = modes.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    for (const [i, on] of modes.entries()) {
      const r = await clearWithSolver(snapshot, { timeLimitMs: budget, seed: 42, neighbourhoods: on });
      const invalid = checkResult(snapshot, r).length > 0 ? ' INVALID' : '';
      const lns = on ? ` (${r.stats.phases.neighbourhoods ?? 0})` : '';
      cells[i].push(
        `${((100 * r.welfare.toNumber()) / Number(r.upperBound)).toFixed(3)}% ${r.stats.solveMs} ms${lns}${invalid}`,
      );
    }
  }
  console.log(`| ${name} | ${cells.map((c) => c.join(', ')).join(' | ')} |`);
}
console.log(`load at end ${loadavg()[0].toFixed(2)}`);
