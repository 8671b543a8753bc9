import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clearRound } from '../core/clearing/clear-round.js';
import { serializeSnapshot } from '../core/clearing/snapshot-file.js';
import type { ClearOptionsLike } from '../core/simulation/market-scheduler.js';
import { runSimulation, SIMULATION_DEFAULTS } from '../core/simulation/run-simulation.js';
import { warmUpHighs } from '../core/solvers/highs-backend.js';
import type { Workload } from '../core/simulation/workload.js';
import { loadWorkload, REPO_ROOT, TRACE_SCENARIOS } from '../simulation/load-workload.js';
import { renderReportHtml, summaryText } from '../simulation/report-html.js';
import { runServicesSimulation, SERVICES_OPTIONS, SERVICES_SCENARIO, servicesUsage } from './simulate-services.js';

/** What `gpumarket simulate` runs without --scenario (or, with --pods-file/--nodes-file, the trace). */
export const DEFAULT_SCENARIO = 'five-tenants';

export const usage = `usage: gpumarket simulate [--scenario <name|file|trace>] [--seed N] [--hours H] [--out DIR]
  --scenario        a name in scenarios/ (five-tenants, diurnal, diurnal-identical-limits, ...), a
                    scenario JSON file, or "trace" (default: ${DEFAULT_SCENARIO}; "trace" when a
                    --pods-file or --nodes-file is given)
  --seed N          random seed (default 1); same seed, same report
  --hours H         simulated hours (default: the scenario's; for the trace: the whole trace)
  --out DIR         where report.json and report.html go (default artifacts/simulation/<scenario>)
  --period S        round period in seconds (default: the scenario's; 600 for the trace)
  --solver NAME     clearing solver: auto (default), highs, lp-solver, greedy
  --time-limit-ms N cap on one round's clearing in ms (default 10000); rounds clear in the core's
                    deterministic mode, so a run is reproducible unless a round reaches the cap,
                    and the report lists any that do
  --capacity-steps N bisection steps of the capacity search (default 5; 0 turns it off)
  --trace-dir DIR   trace directory (default ../shared/traces/alibaba-gpu-2023 from the repo root)
  --trace-start S   trace second at which the replay starts (default 0)
  --pods-file FILE  a pods file in the Alibaba trace format, relative to the working directory
                    (replaces the trace directory's first pods*.csv)
  --nodes-file FILE a nodes file in the same format, relative to the working directory
                    (replaces the trace directory's nodes.csv)
  --equal-fleets M  fleets every shared baseline runs on in full: sized (default: the scenario's
                    and the one each baseline needs) or visited (also every size probed)
${servicesUsage}`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: Object.fromEntries(
        [
          'scenario',
          'seed',
          'hours',
          'out',
          'period',
          'solver',
          'time-limit-ms',
          'capacity-steps',
          'trace-dir',
          'trace-start',
          'pods-file',
          'nodes-file',
          'equal-fleets',
          ...SERVICES_OPTIONS,
        ].map((k) => [k, { type: 'string' as const }]),
      ),
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    return 2;
  }
  const numeric = ['seed', 'hours', 'period', 'time-limit-ms', 'capacity-steps', 'trace-start'];
  const bad = numeric.find((k) => values[k] !== undefined && !(Number(values[k]) >= 0));
  if (bad) {
    process.stderr.write(`--${bad} must be a non-negative number\n${usage}\n`);
    return 2;
  }
  if (values.scenario === SERVICES_SCENARIO)
    return runServicesSimulation(values, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(`${text}${usage}\n`),
    });
  const fromFiles = values['pods-file'] !== undefined || values['nodes-file'] !== undefined;
  const scenario = values.scenario ?? (fromFiles ? 'trace' : DEFAULT_SCENARIO);
  if (fromFiles && !TRACE_SCENARIOS.includes(scenario)) {
    process.stderr.write(
      `--pods-file and --nodes-file replay a trace: use them without --scenario or with --scenario trace\n`,
    );
    return 2;
  }
  const equalFleets = values['equal-fleets'] ?? 'sized';
  if (equalFleets !== 'sized' && equalFleets !== 'visited') {
    process.stderr.write(`--equal-fleets must be sized or visited\n`);
    return 2;
  }
  const solver = (values.solver ?? 'auto') as NonNullable<ClearOptionsLike['solver']>;
  if (!['auto', 'highs', 'lp-solver', 'greedy'].includes(solver)) {
    process.stderr.write(`--solver must be one of auto, highs, lp-solver, greedy\n`);
    return 2;
  }
  const seed = Number(values.seed ?? 1);
  let workload: Workload;
  try {
    workload = await loadWorkload({
      scenario,
      // Files named on the command line are where the user is, not where the repository is.
      podsFile: values['pods-file'] === undefined ? undefined : resolve(values['pods-file']),
      nodesFile: values['nodes-file'] === undefined ? undefined : resolve(values['nodes-file']),
      seed,
      hours: values.hours === undefined ? undefined : Number(values.hours),
      periodSeconds: values.period === undefined ? undefined : Number(values.period),
      traceDir: values['trace-dir'],
      traceStart: values['trace-start'] === undefined ? undefined : Number(values['trace-start']),
    });
  } catch (error) {
    process.stderr.write(`simulate: ${(error as Error).message}\n`);
    return 2;
  }
  const out = values.out
    ? isAbsolute(values.out)
      ? values.out
      : resolve(values.out)
    : resolve(REPO_ROOT, 'artifacts', 'simulation', workload.name);
  process.stderr.write(
    `simulate: ${workload.name}, ${workload.jobs.length} jobs, ${workload.nodes.length} nodes, ${(workload.horizonSeconds / 3600).toFixed(1)} h in ${workload.params.periodSeconds} s rounds\n`,
  );
  // Compiles HiGHS before the first round, so compilation never eats that round's time limit.
  if (solver === 'auto' || solver === 'highs') await warmUpHighs();
  const { report, failedRounds } = await runSimulation(workload, {
    seed,
    clear: clearRound,
    clearOptions: {
      solver,
      timeLimitMs: Number(values['time-limit-ms'] ?? SIMULATION_DEFAULTS.timeLimitMs),
      deterministic: true,
    },
    capacitySteps: Number(values['capacity-steps'] ?? SIMULATION_DEFAULTS.capacitySteps),
    equalFleets,
    log: (line) => process.stderr.write(`  ${line}\n`),
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, 'report.html'), renderReportHtml(report));
  for (const snapshot of failedRounds) {
    const file = join(out, `failed-${snapshot.roundId}.json`);
    await writeFile(file, `${JSON.stringify(serializeSnapshot(snapshot), null, 2)}\n`);
    process.stderr.write(
      `simulate: the ${solver} solver failed on ${snapshot.roundId} (cleared again in greedy mode); snapshot: ${file}\n`,
    );
  }
  process.stdout.write(
    `${summaryText(report)}\n\nwrote ${join(out, 'report.json')} and report.html (${report.timings.total} ms)\n`,
  );
  return 0;
}
