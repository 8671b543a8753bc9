import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseGpuQuery, parseTopology, type GpuInfo, type GpuTopology } from './nvidia-smi-parser.js';

const run = promisify(execFile);

export const GPU_QUERY_ARGS = ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'];
export const TOPOLOGY_ARGS = ['topo', '-m'];

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
