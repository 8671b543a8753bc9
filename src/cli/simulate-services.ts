import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { DIURNAL_H100_INDEX_BY_UTC_HOUR } from '../core/simulation/services-market.js';
import { runServicesScenario, SERVICES_DEFAULTS, type ServicesScenario } from '../core/simulation/services-scenario.js';
import { servicesSummaryText } from '../core/simulation/services-summary.js';
import { DEFAULT_SERVICE_TIME, parseAzureConversationCsv, shapeDemand } from '../core/simulation/services-trace.js';
import { REPO_ROOT } from '../simulation/load-workload.js';

/** `gpumarket simulate --scenario services`: the file reading and writing around the pure scenario. */
export const SERVICES_SCENARIO = 'services';
export const SERVICES_TRACE_DEFAULT_DIR = '../shared/traces/azure-llm-inference-2023';
/** Replay time 0: 06:00 UTC on the trace's day, so the replay crosses the price series' midday peak. */
export const SERVICES_EPOCH = '2023-11-16T06:00:00.000Z';

export const SERVICES_OPTIONS = [
  'time-scale',
  'window-seconds',
  'gap-seconds',
  'trace-seconds',
  'max-replicas',
  'min-replicas',
  'target-concurrency',
  'max-price',
  'slo-seconds',
] as const;

export const servicesUsage = `  services scenario (--scenario services; the Azure LLM inference trace, conv.csv in --trace-dir,
  default ${SERVICES_TRACE_DEFAULT_DIR}):
  --time-scale S         a trace second lasts S replay seconds (default ${SERVICES_DEFAULTS.shape.timeScale})
  --window-seconds W     trace seconds per window (default ${SERVICES_DEFAULTS.shape.windowSeconds}; 0: one window)
  --gap-seconds G        replay seconds of silence after each window (default ${SERVICES_DEFAULTS.shape.gapSeconds})
  --trace-seconds T      use only the first T trace seconds (default: all)
  --max-replicas N       maxReplicas of every policy; always-on runs N (default ${SERVICES_DEFAULTS.service.maxReplicas})
  --min-replicas N       the fixed-minimum policy's floor (default ${SERVICES_DEFAULTS.service.fixedMinReplicas})
  --target-concurrency N in-flight requests per replica the autoscaler aims at (default ${SERVICES_DEFAULTS.service.targetConcurrency})
  --max-price P          the replicas' limit per GPU-hour, decayed 0.9 per rank above the floor (default 2.00)
  --slo-seconds X        a served request slower than X s misses the SLO (default ${SERVICES_DEFAULTS.sloSeconds})`;

export const SERVICES_MAX_PRICE_DEFAULT = '2.00';

/** The market scenarios' flags: refused rather than silently ignored. */
const NOT_FOR_SERVICES = [
  'hours',
  'period',
  'solver',
  'time-limit-ms',
  'capacity-steps',
  'trace-start',
  'pods-file',
  'nodes-file',
  'equal-fleets',
];

export async function runServicesSimulation(
  values: Record<string, string | undefined>,
  write: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const num = (key: string, fallback: number, integer = false): number | Error => {
    const raw = values[key];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    return raw.trim() !== '' && n >= 0 && (!integer || Number.isInteger(n))
      ? n
      : new Error(`--${key} must be a non-negative ${integer ? 'integer' : 'number'}`);
  };
  const foreign = NOT_FOR_SERVICES.find((key) => values[key] !== undefined);
  if (foreign) return fail(write, `--${foreign} does not apply to --scenario services (see --trace-seconds)`);
  const d = SERVICES_DEFAULTS;
  const read = {
    timeScale: num('time-scale', d.shape.timeScale),
    windowSeconds: num('window-seconds', d.shape.windowSeconds),
    gapSeconds: num('gap-seconds', d.shape.gapSeconds),
    traceSeconds: num('trace-seconds', -1),
    maxReplicas: num('max-replicas', d.service.maxReplicas, true),
    minReplicas: num('min-replicas', d.service.fixedMinReplicas, true),
    target: num('target-concurrency', d.service.targetConcurrency, true),
    slo: num('slo-seconds', d.sloSeconds),
    seed: num('seed', 1, true),
  };
  const bad = Object.values(read).find((v) => v instanceof Error);
  if (bad) return fail(write, (bad as Error).message);
  const v = read as Record<keyof typeof read, number>;
  if (!(v.timeScale > 0)) return fail(write, '--time-scale must be positive');
  if (v.maxReplicas < 1 || v.target < 1)
    return fail(write, '--max-replicas and --target-concurrency must be at least 1');
  const maxPrice = values['max-price'] ?? SERVICES_MAX_PRICE_DEFAULT;
  if (!/^\d+(\.\d{1,4})?$/.test(maxPrice) || Number(maxPrice) <= 0)
    return fail(write, '--max-price must be a positive decimal with at most 4 places');

  const file = join(resolve(REPO_ROOT, values['trace-dir'] ?? SERVICES_TRACE_DEFAULT_DIR), 'conv.csv');
  let rows;
  try {
    rows = parseAzureConversationCsv(await readFile(file, 'utf8'), file);
  } catch (error) {
    return fail(write, (error as Error).message);
  }
  const scenario: ServicesScenario = {
    seed: v.seed,
    trace: { name: `azure-llm-inference-2023/${basename(file)}`, rows: rows.length },
    shape: {
      timeScale: v.timeScale,
      windowSeconds: v.windowSeconds,
      gapSeconds: v.gapSeconds,
      traceSeconds: v.traceSeconds < 0 ? null : v.traceSeconds,
    },
    serviceTime: DEFAULT_SERVICE_TIME,
    service: { ...d.service, maxReplicas: v.maxReplicas, fixedMinReplicas: v.minReplicas, targetConcurrency: v.target },
    coldStart: d.coldStart,
    market: {
      epoch: SERVICES_EPOCH,
      indexByUtcHour: DIURNAL_H100_INDEX_BY_UTC_HOUR,
      maxPrice,
      gpusPerReplica: 1,
      roundSeconds: 60,
      fastRoundSeconds: 2,
    },
    sloSeconds: v.slo,
  };
  const demand = shapeDemand(rows, scenario.shape, scenario.serviceTime);
  const started = performance.now();
  const report = runServicesScenario(scenario, demand);
  const ms = Math.round(performance.now() - started);
  const out = values.out ? resolve(values.out) : resolve(REPO_ROOT, 'artifacts', 'simulation', SERVICES_SCENARIO);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'report.json'), `${JSON.stringify({ ...report, timings: { total: ms } }, null, 2)}\n`);
  write.out(`${servicesSummaryText(report)}\n\nwrote ${join(out, 'report.json')} (${ms} ms)\n`);
  return 0;
}

function fail(write: { err: (text: string) => void }, message: string): number {
  write.err(`simulate: ${message}\n`);
  return 2;
}
