import { parseArgs } from 'node:util';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { runSimulation } from '../../src/core/simulation/run-simulation.js';
import { loadWorkload } from '../../src/simulation/load-workload.js';

/**
 * bench:simulate: wall time of `gpumarket simulate` on the scenarios the goals name (a
 * simulated day of one-minute rounds; the full trace replay), three baselines each, printed
 * as a table. Capacity searches multiply the market's time by their probe count, so they are
 * off unless --capacity-steps is given.
 */
const { values } = parseArgs({
  options: {
    'capacity-steps': { type: 'string', default: '0' },
    only: { type: 'string' },
    'time-limit-ms': { type: 'string', default: '50' },
  },
});
const cases = [
  { scenario: 'five-tenants', goalSeconds: 60 },
  { scenario: 'diurnal', goalSeconds: 60 },
  { scenario: 'trace', goalSeconds: 600 },
].filter((c) => !values.only || values.only.split(',').includes(c.scenario));

const rows: string[][] = [['scenario', 'jobs', 'rounds', 'dedicated s', 'fifo s', 'market s', 'clear ms mean', 'clear ms p95', 'rounds at time limit', 'solver failures', 'capacity s', 'total s', 'goal']];
for (const c of cases) {
  const workload = await loadWorkload({ scenario: c.scenario, seed: 1 });
  const started = performance.now();
  const { report } = await runSimulation(workload, {
    seed: 1,
    clear: clearRound,
    clearOptions: { solver: 'auto', timeLimitMs: Number(values['time-limit-ms']) },
    capacitySteps: Number(values['capacity-steps']),
  });
  const total = (performance.now() - started) / 1000;
  const t = report.timings;
  const market = report.baselines[2];
  const s = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(1);
  rows.push([
    c.scenario,
    String(workload.jobs.length),
    String(report.scenario.rounds),
    s(t.dedicated),
    s(t.fifo),
    s(t.market),
    market.solveMs.mean.toFixed(1),
    market.solveMs.p95.toFixed(1),
    String(report.clearing.status.feasible ?? 0),
    String(report.clearing.failures.length),
    s((t['capacity:fifo'] ?? 0) + (t['capacity:market'] ?? 0)),
    total.toFixed(1),
    `< ${c.goalSeconds} s: ${total < c.goalSeconds ? 'met' : 'NOT met'}`,
  ]);
  process.stderr.write(`${c.scenario}: ${total.toFixed(1)} s\n`);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
process.stdout.write(`${[line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')}\n`);
