import { parseArgs } from 'node:util';
import { clearRound } from '../../src/core/clearing/clear-round.js';
import { runSimulation, SIMULATION_DEFAULTS } from '../../src/core/simulation/run-simulation.js';
import { warmUpHighs } from '../../src/core/solvers/highs-backend.js';
import { loadWorkload } from '../../src/simulation/load-workload.js';

/**
 * bench:simulate: wall time of `gpumarket simulate` with its default options on the scenarios
 * the goals name (a simulated day of one-minute rounds; the full trace replay): four
 * baselines each (dedicated, FIFO, the priority queue, the market), the capacity search for
 * the three shared ones, and the equal-fleet runs (every shared baseline in full on each sized
 * fleet), as the command runs by default. Runs drain past the horizon until the last deadline. Printed
 * as a table, with the machine's load average, since a shared machine slows every figure.
 */
const { values } = parseArgs({
  options: {
    'capacity-steps': { type: 'string' },
    only: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'time-limit-ms': { type: 'string', default: String(SIMULATION_DEFAULTS.timeLimitMs) },
  },
});
const cases = [
  { scenario: 'five-tenants', goalSeconds: 60 },
  { scenario: 'diurnal', goalSeconds: 60 },
  { scenario: 'trace', goalSeconds: 600 },
].filter((c) => !values.only || values.only.split(',').includes(c.scenario));

const { loadavg } = await import('node:os');
await warmUpHighs();
const seed = Number(values.seed);
const rows: string[][] = [
  [
    'scenario',
    'jobs',
    'rounds',
    'dedicated s',
    'fifo s',
    'priority s',
    'market s',
    'clear ms mean',
    'clear ms p95',
    'rounds at time limit',
    'solver failures',
    'capacity s',
    'equal fleets s',
    'total s',
    'load avg',
    'goal',
  ],
];
for (const c of cases) {
  const workload = await loadWorkload({ scenario: c.scenario, seed });
  const capacitySteps = Number(values['capacity-steps'] ?? SIMULATION_DEFAULTS.capacitySteps);
  const started = performance.now();
  const { report } = await runSimulation(workload, {
    seed,
    clear: clearRound,
    clearOptions: { solver: 'auto', timeLimitMs: Number(values['time-limit-ms']), deterministic: true },
    capacitySteps,
  });
  const total = (performance.now() - started) / 1000;
  const t = report.timings;
  const market = report.baselines.find((b) => b.baseline === 'market')!;
  const s = (ms: number | undefined) => ((ms ?? 0) / 1000).toFixed(1);
  const summed = (prefix: string) => Object.entries(t).reduce((a, [k, v]) => (k.startsWith(prefix) ? a + v : a), 0);
  rows.push([
    c.scenario,
    String(workload.jobs.length),
    String(report.scenario.rounds),
    s(t.dedicated),
    s(t.fifo),
    s(t.priority),
    s(t.market),
    market.solveMs.mean.toFixed(1),
    market.solveMs.p95.toFixed(1),
    String(report.clearing.roundsAtTimeLimit.count),
    String(report.clearing.failures.length),
    capacitySteps > 0 ? s(summed('capacity:')) : 'off',
    s(summed('fleet:')),
    total.toFixed(1),
    loadavg()[0].toFixed(1),
    `< ${c.goalSeconds} s: ${total < c.goalSeconds ? 'met' : 'NOT met'}`,
  ]);
  process.stderr.write(`${c.scenario}: ${total.toFixed(1)} s\n`);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
process.stdout.write(
  `${[line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')}\n`,
);
