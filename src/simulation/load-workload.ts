import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toMoney } from '../core/money/money.js';
import { generateWorkload, validateScenario } from '../core/simulation/scenario-generator.js';
import { traceWorkload } from '../core/simulation/trace-model.js';
import type { Workload } from '../core/simulation/workload.js';
import { parseTraceNodes, parseTracePods, readTraceDirectory } from './trace-reader.js';

/** The nearest folder above this module with a package.json: the repo root from src/ or dist/. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
export const REPO_ROOT = findRepoRoot();

/** Coarser than the service's minute: months of trace in minutes would be ~215,000 rounds. */
export const TRACE_DEFAULT_PERIOD_SECONDS = 600;
export const TRACE_DEFAULT_DIR = '../shared/traces/alibaba-gpu-2023';
export const TRACE_SCENARIOS = ['trace', 'alibaba-gpu-2023'];

export interface WorkloadRequest {
  readonly scenario: string;
  readonly seed: number;
  readonly hours?: number;
  readonly periodSeconds?: number;
  /** Relative paths resolve against the repo root. */
  readonly traceDir?: string;
  readonly traceStart?: number;
  /**
   * A nodes file and a pods file in the trace format, each replacing the trace directory's (absolute paths: the CLI
   * resolves them against the working directory).
   */
  readonly nodesFile?: string;
  readonly podsFile?: string;
}

export class WorkloadNotFoundError extends Error {}

export async function loadWorkload(request: WorkloadRequest): Promise<Workload> {
  const { scenario, seed, hours, periodSeconds } = request;
  if (TRACE_SCENARIOS.includes(scenario)) {
    const dir = resolve(REPO_ROOT, request.traceDir ?? TRACE_DEFAULT_DIR);
    const fromDir = request.nodesFile && request.podsFile ? null : await readTraceDirectory(dir);
    const trace = {
      nodes: request.nodesFile
        ? parseTraceNodes(await readFile(request.nodesFile, 'utf8'), request.nodesFile)
        : fromDir!.nodes,
      pods: request.podsFile
        ? parseTracePods(await readFile(request.podsFile, 'utf8'), request.podsFile)
        : fromDir!.pods,
    };
    const windowStart = request.traceStart ?? 0;
    const lastEvent = trace.pods.reduce((m, p) => Math.max(m, p.creationTime, p.deletionTime ?? 0), 0);
    return traceWorkload(trace.nodes, trace.pods, {
      seed,
      windowStart,
      hours: hours ?? (lastEvent - windowStart) / 3600,
      params: {
        periodSeconds: periodSeconds ?? TRACE_DEFAULT_PERIOD_SECONDS,
        feePercent: toMoney('10'),
        preemptionPenalty: toMoney('0.05'),
        minHoldSeconds: 600,
        preemptionNoticeSeconds: 120,
      },
    });
  }
  const file = existsSync(scenario) ? scenario : join(REPO_ROOT, 'scenarios', `${scenario}.json`);
  if (!existsSync(file)) throw new WorkloadNotFoundError(`no scenario "${scenario}" (looked for ${file})`);
  const spec = validateScenario(JSON.parse(await readFile(file, 'utf8')));
  return generateWorkload(periodSeconds ? { ...spec, periodSeconds } : spec, seed, hours);
}
