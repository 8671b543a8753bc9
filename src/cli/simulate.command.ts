import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { toMoney } from '../core/money/money.js';
import { generateWorkload, validateScenario } from '../core/simulation/scenario-generator.js';
import { clearRound } from '../core/clearing/clear-round.js';
import { serializeSnapshot } from '../core/clearing/snapshot-file.js';
import type { ClearOptionsLike } from '../core/simulation/market-scheduler.js';
import { runSimulation } from '../core/simulation/run-simulation.js';
import { traceWorkload } from '../core/simulation/trace-model.js';
import type { Workload } from '../core/simulation/workload.js';
import { renderReportHtml, summaryText } from '../simulation/report-html.js';
import { readTraceDirectory } from '../simulation/trace-reader.js';

const USAGE = `usage: gpumarket simulate --scenario <name|file> [--seed N] [--hours H] [--out DIR]
  --scenario        a name in scenarios/ (five-tenants, diurnal, ...), a scenario JSON file, or "trace"
  --seed N          random seed (default 1); same seed, same report
  --hours H         simulated hours (default: the scenario's; for the trace: the whole trace)
  --out DIR         where report.json and report.html go (default artifacts/simulation/<scenario>)
  --period S        round period in seconds (default: the scenario's; 600 for the trace)
  --solver NAME     clearing solver: auto (default), highs, lp-solver, greedy
  --time-limit-ms N clearing time limit per round (default 50)
  --capacity-steps N bisection steps of the capacity search (default 5; 0 for the trace)
  --trace-dir DIR   trace directory (default ../shared/traces/alibaba-gpu-2023 from the repo root)
  --trace-start S   trace second at which the replay starts (default 0)`;

/** The nearest folder above this module with a package.json: the repo root from src/ or dist/. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const REPO_ROOT = findRepoRoot();
const TRACE_DEFAULT_PERIOD = 600;


async function loadWorkload(values: Record<string, string | undefined>, seed: number): Promise<Workload> {
  const scenario = values.scenario!;
  const hours = values.hours === undefined ? undefined : Number(values.hours);
  const period = values.period === undefined ? undefined : Number(values.period);
  if (scenario === 'trace' || scenario === 'alibaba-gpu-2023') {
    const dir = resolve(REPO_ROOT, values['trace-dir'] ?? '../shared/traces/alibaba-gpu-2023');
    const trace = await readTraceDirectory(dir);
    const windowStart = Number(values['trace-start'] ?? 0);
    const lastEvent = Math.max(...trace.pods.map((p) => Math.max(p.creationTime, p.deletionTime ?? 0)));
    return traceWorkload(trace.nodes, trace.pods, {
      seed,
      windowStart,
      hours: hours ?? (lastEvent - windowStart) / 3600,
      params: {
        periodSeconds: period ?? TRACE_DEFAULT_PERIOD,
        feePercent: toMoney('10'),
        preemptionPenalty: toMoney('0.05'),
        minHoldSeconds: 600,
        preemptionNoticeSeconds: 120,
      },
    });
  }
  const file = existsSync(scenario) ? scenario : join(REPO_ROOT, 'scenarios', `${scenario}.json`);
  if (!existsSync(file)) throw new UsageError(`no scenario "${scenario}" (looked for ${file})`);
  const spec = validateScenario(JSON.parse(await readFile(file, 'utf8')));
  const workload = generateWorkload(period ? { ...spec, periodSeconds: period } : spec, seed, hours);
  return workload;
}

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(
        ['scenario', 'seed', 'hours', 'out', 'period', 'solver', 'time-limit-ms', 'capacity-steps', 'trace-dir', 'trace-start'].map((k) => [k, { type: 'string' as const }]),
      ),
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const numeric = ['seed', 'hours', 'period', 'time-limit-ms', 'capacity-steps', 'trace-start'];
  const bad = numeric.find((k) => values[k] !== undefined && !(Number(values[k]) >= 0));
  if (!values.scenario || bad) {
    process.stderr.write(`${bad ? `--${bad} must be a non-negative number\n` : '--scenario is required\n'}${USAGE}\n`);
    return 2;
  }
  const solver = (values.solver ?? 'auto') as NonNullable<ClearOptionsLike['solver']>;
  if (!['auto', 'highs', 'lp-solver', 'greedy'].includes(solver)) {
    process.stderr.write(`--solver must be one of auto, highs, lp-solver, greedy\n`);
    return 2;
  }
  const seed = Number(values.seed ?? 1);
  const isTrace = values.scenario === 'trace' || values.scenario === 'alibaba-gpu-2023';
  let workload: Workload;
  try {
    workload = await loadWorkload(values, seed);
  } catch (error) {
    process.stderr.write(`simulate: ${(error as Error).message}\n`);
    return 2;
  }
  const out = values.out ? (isAbsolute(values.out) ? values.out : resolve(values.out)) : resolve(REPO_ROOT, 'artifacts', 'simulation', workload.name);
  process.stderr.write(`simulate: ${workload.name}, ${workload.jobs.length} jobs, ${workload.nodes.length} nodes, ${(workload.horizonSeconds / 3600).toFixed(1)} h in ${workload.params.periodSeconds} s rounds\n`);
  const { report, failedRounds } = await runSimulation(workload, {
    seed,
    clear: clearRound,
    clearOptions: { solver, timeLimitMs: Number(values['time-limit-ms'] ?? 50) },
    capacitySteps: Number(values['capacity-steps'] ?? (isTrace ? 0 : 5)),
    log: (line) => process.stderr.write(`  ${line}\n`),
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, 'report.html'), renderReportHtml(report));
  for (const snapshot of failedRounds) {
    const file = join(out, `failed-${snapshot.roundId}.json`);
    await writeFile(file, `${JSON.stringify(serializeSnapshot(snapshot), null, 2)}\n`);
    process.stderr.write(`simulate: the ${solver} solver failed on ${snapshot.roundId} (cleared again in greedy mode); snapshot: ${file}\n`);
  }
  process.stdout.write(`${summaryText(report)}\n\nwrote ${join(out, 'report.json')} and report.html (${report.timings.total} ms)\n`);
  return 0;
}
