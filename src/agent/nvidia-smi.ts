import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GpuReading } from './gpu-health.js';
import { parseGpuHealth, parseGpuQuery, parseTopology, type GpuInfo, type GpuTopology } from './nvidia-smi-parser.js';

const run = promisify(execFile);

export const GPU_QUERY_ARGS = ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'];
export const TOPOLOGY_ARGS = ['topo', '-m'];
/** Health fields; a driver that does not know one refuses the whole query, and the agent drops it. */
export const HEALTH_FIELDS = [
  'index',
  'uuid',
  'mig.mode.current',
  'ecc.errors.uncorrected.volatile.total',
  'ecc.errors.uncorrected.aggregate.total',
  'retired_pages.pending',
  'remapped_rows.pending',
] as const;

export function healthArgs(fields: readonly string[]): string[] {
  return [`--query-gpu=${fields.join(',')}`, '--format=csv,nounits'];
}

export interface DiscoveredGpus {
  readonly gpus: GpuInfo[];
  /** Undefined when `topo -m` failed (some drivers in VMs refuse it); the agent then assumes no NVLink. */
  readonly topology?: GpuTopology;
}

/** Runs nvidia-smi (any path: a fake script on machines without GPUs) and parses what it prints. */
export async function discoverGpus(nvidiaSmi = 'nvidia-smi'): Promise<DiscoveredGpus> {
  const { stdout } = await run(nvidiaSmi, GPU_QUERY_ARGS, { timeout: 30_000 });
  const gpus = parseGpuQuery(stdout);
  if (gpus.length === 0) throw new Error(`${nvidiaSmi} found no GPUs`);
  let topology: GpuTopology | undefined;
  try {
    topology = parseTopology((await run(nvidiaSmi, TOPOLOGY_ARGS, { timeout: 30_000 })).stdout);
  } catch {
    topology = undefined;
  }
  return { gpus, topology };
}

/**
 * Reads the GPUs' health as nvidia-smi sees it now. Fields this driver does not know are dropped
 * (and stay dropped for this reader); Xid errors are not in nvidia-smi's query and are not read.
 */
export function gpuHealthReader(nvidiaSmi = 'nvidia-smi'): () => Promise<GpuReading[]> {
  let fields: string[] = [...HEALTH_FIELDS];
  return async () => {
    for (;;) {
      try {
        const { stdout } = await run(nvidiaSmi, healthArgs(fields), { timeout: 30_000 });
        return parseGpuHealth(stdout);
      } catch (error) {
        const text = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}${(error as Error).message}`;
        const refused = /Field "([^"]+)" is not a valid field to query/.exec(text)?.[1];
        if (!refused || !fields.includes(refused) || refused === 'index' || refused === 'uuid') throw error;
        fields = fields.filter((field) => field !== refused);
      }
    }
  };
}
