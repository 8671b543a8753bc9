import { hostname } from 'node:os';
import { catalogueNameForNvidiaSmi } from '../modules/dispatch/adapters/gpu-model-names.js';
import type { NodeRegistration } from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { MarketClient } from './market-client.js';
import { NodeAgent } from './node-agent.js';
import { discoverGpus } from './nvidia-smi.js';
import { nvlinkIslands } from './nvidia-smi-parser.js';

/** Everything `gpumarket agent` is configured with (flags, validated by the command). */
export interface AgentConfig {
  readonly marketUrl: string;
  readonly key: string;
  readonly region: string;
  readonly block: string;
  readonly reservePrice: string;
  readonly externalId?: string;
  readonly nvidiaSmi?: string;
  readonly gpuModel?: string;
  readonly nvlinkDomain?: string;
  readonly compliance?: string[];
  readonly stateDir: string;
  readonly pollWaitSeconds?: number;
  readonly monitorIntervalMs?: number;
}

/** Discovers the node's GPUs with nvidia-smi and builds the agent that registers and serves it. */
export async function createNodeAgent(config: AgentConfig, log?: (line: string) => void): Promise<NodeAgent> {
  const say = log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} agent: ${line}\n`));
  const { gpus, topology } = await discoverGpus(config.nvidiaSmi);
  const names = new Set(gpus.map((gpu) => gpu.name));
  if (names.size > 1 && !config.gpuModel) {
    throw new Error(`the node mixes GPU models (${[...names].join(', ')}); pass --gpu-model to name the one to sell`);
  }
  const first = gpus[0]!.name;
  const gpuModel = config.gpuModel ?? catalogueNameForNvidiaSmi(first);
  if (!gpuModel) throw new Error(`no catalogue name for "${first}"; pass --gpu-model (for example H100-SXM-80GB)`);
  const islands = topology ? nvlinkIslands(topology) : gpus.map((gpu) => [gpu.index]);
  if (islands.length > 1) {
    say(`GPUs are not all NVLink-connected (islands: ${islands.map((island) => island.join('+')).join(' ')})`);
  }
  const externalId = config.externalId ?? hostname();
  const registration: NodeRegistration = {
    externalId,
    gpuModel,
    gpus: gpus.length,
    region: config.region,
    block: config.block,
    reservePrice: config.reservePrice,
    ...(config.nvlinkDomain ? { nvlinkDomain: config.nvlinkDomain } : {}),
    ...(config.compliance?.length ? { compliance: config.compliance } : {}),
  };
  say(`node ${externalId}: ${gpus.length} x ${first} -> ${gpuModel}`);
  return new NodeAgent({
    client: new MarketClient(config.marketUrl, config.key),
    registration,
    gpuIndices: gpus.map((gpu) => gpu.index),
    nvlinkIslands: islands,
    stateDir: config.stateDir,
    pollWaitSeconds: config.pollWaitSeconds,
    monitorIntervalMs: config.monitorIntervalMs,
    log: say,
  });
}
