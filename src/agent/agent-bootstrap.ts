import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import type { NodeRegistration } from '../modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { cdiListsAll, ContainerRuntime } from './container-runtime.js';
import { catalogueNameForGpu } from './gpu-names.js';
import { LeaseCgroups } from './lease-cgroup.js';
import { MarketClient } from './market-client.js';
import { NodeAgent } from './node-agent.js';
import { discoverGpus, gpuHealthReader } from './nvidia-smi.js';
import { nvlinkIslands } from './nvidia-smi-parser.js';
import { ProcessRuntime } from './process-runtime.js';
import type { RuntimeKind, WorkloadRuntime } from './runtime.js';
import { canSwitchUsers, findSetpriv, WorkloadUsers } from './workload-users.js';

const run = promisify(execFile);

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
  /** `auto`: docker or podman when the node has a working one, else process. Default: process. */
  readonly runtime?: RuntimeKind | 'auto';
  /** Prefix of the per-GPU-slot workload users; undefined: workloads run as the agent's user. */
  readonly workloadUser?: string;
  /** Parent of the per-lease scratch directories; default `<state-dir>-scratch`. */
  readonly scratchDir?: string;
  /** Container network (`--network`); default bridge. */
  readonly containerNetwork?: string;
  readonly heartbeatSeconds?: number;
  readonly gpuScanSeconds?: number;
  /** false: never use a cgroup per lease, only /proc tracking (tests of that fallback). */
  readonly useCgroups?: boolean;
  /** The address the market reaches this node's service replicas at; default its first external address. */
  readonly advertiseHost?: string;
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
  const gpuModel = config.gpuModel ?? catalogueNameForGpu(first);
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
  const runtime = await createRuntime(
    config,
    externalId,
    gpus.map((gpu) => gpu.uuid),
    say,
  );
  return new NodeAgent({
    client: new MarketClient(config.marketUrl, config.key),
    registration,
    gpuIndices: gpus.map((gpu) => gpu.index),
    gpus: gpus.map(({ index, uuid }) => ({ index, uuid })),
    nvlinkIslands: islands,
    stateDir: config.stateDir,
    runtime,
    readGpus: gpuHealthReader(config.nvidiaSmi),
    heartbeatSeconds: config.heartbeatSeconds,
    gpuScanSeconds: config.gpuScanSeconds,
    pollWaitSeconds: config.pollWaitSeconds,
    monitorIntervalMs: config.monitorIntervalMs,
    advertiseHost: config.advertiseHost,
    log: say,
  });
}

async function createRuntime(
  config: AgentConfig,
  node: string,
  uuids: readonly string[],
  say: (line: string) => void,
): Promise<WorkloadRuntime> {
  const scratchRoot = config.scratchDir ?? `${config.stateDir.replace(/\/+$/, '')}-scratch`;
  let users: WorkloadUsers | undefined;
  if (config.workloadUser) {
    if (!canSwitchUsers())
      throw new Error(
        `--workload-user ${config.workloadUser} needs the agent to run as root (or with CAP_SETUID and CAP_SETGID)`,
      );
    users = new WorkloadUsers(config.workloadUser);
  }
  let kind = config.runtime ?? 'process';
  if (kind === 'auto') {
    kind = (await works('docker')) ? 'docker' : (await works('podman')) ? 'podman' : 'process';
    if (kind === 'process')
      say(
        'WARNING: neither docker nor podman works on this node; running workloads as processes (--runtime process, weaker isolation: docs/adapters.md)',
      );
  }
  if (kind === 'docker' || kind === 'podman') {
    const cdi = kind === 'podman' || (await cdiAvailable(uuids));
    if (kind === 'podman' && !(await cdiAvailable(uuids)))
      say(
        'WARNING: nvidia-ctk cdi list does not list every GPU by UUID; run `nvidia-ctk cdi generate` or podman cannot pass GPUs',
      );
    say(
      `runtime ${kind}: GPUs by ${cdi ? 'CDI device' : '--gpus device='}, network ${config.containerNetwork ?? 'bridge'}${users ? `, users ${users.base}-g<slot>` : ''}`,
    );
    return new ContainerRuntime({ kind, scratchRoot, users, network: config.containerNetwork, cdi });
  }
  const setpriv = users ? findSetpriv() : undefined;
  if (users && !setpriv) throw new Error('--workload-user needs setpriv (util-linux) on the node');
  const cgroups = config.useCgroups === false ? undefined : LeaseCgroups.detect();
  if (!users) {
    say(
      "WARNING: workloads run as the agent's own user (the agent cannot switch users, or no --workload-user): a workload can read the agent's state, other workloads' files and signal their processes",
    );
  }
  say(
    `runtime process: ${users ? `users ${users.base}-g<slot>` : 'same user'}, ${cgroups ? 'a cgroup v2 per lease' : 'no writable cgroup v2 (processes tracked through /proc)'}, scratch under ${scratchRoot}`,
  );
  return new ProcessRuntime({
    node,
    workloadsDir: `${config.stateDir}/workloads`,
    scratchRoot,
    users: users && setpriv ? { users, setpriv } : undefined,
    cgroups,
    path: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  });
}

async function works(cli: string): Promise<boolean> {
  try {
    await run(cli, ['version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function cdiAvailable(uuids: readonly string[]): Promise<boolean> {
  try {
    return cdiListsAll((await run('nvidia-ctk', ['cdi', 'list'], { timeout: 10_000 })).stdout, uuids);
  } catch {
    return false;
  }
}
