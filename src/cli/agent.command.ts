import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createNodeAgent, type AgentConfig } from '../agent/agent-bootstrap.js';
import { canSwitchUsers } from '../agent/workload-users.js';

/**
 * `gpumarket agent --market URL --key PROVIDER_KEY --region R --block B --reserve-price P`:
 * runs on a GPU node (docs/adapters.md). Stops on SIGINT/SIGTERM; the workloads it started keep
 * running and are re-adopted by the next agent from the state directory.
 * Exit codes: 0 stopped by a signal, 1 could not start (nvidia-smi, state file), 2 bad usage.
 */
export const usage = `usage: gpumarket agent --market URL --key-file PATH --region REGION --block BLOCK --reserve-price PRICE
         [--node-id ID] [--nvidia-smi PATH] [--gpu-model NAME] [--nvlink-domain ID] [--compliance TAG,...]
         [--state-dir DIR] [--wait-seconds N] [--runtime process|docker|podman] [--workload-user PREFIX]
         [--scratch-dir DIR] [--network NAME] [--heartbeat-seconds N] [--gpu-scan-seconds N]
         [--advertise-host HOST]
  The key comes from --key-file (a file only the agent's user can read), GPUMARKET_PROVIDER_KEY (the
  agent removes it from its environment at start) or --key (visible in the process list: avoid).
  The nvidia-smi path may also come from GPUMARKET_NVIDIA_SMI (a fake for machines without GPUs).
  --runtime: default docker or podman when the node has a working one, else process (warned).
  --workload-user: workloads run as PREFIX-g<slot> users (created when missing); default gpumarket
  when the agent runs as root, else the agent's own user (warned: no isolation between tenants).
  --advertise-host: the address the market reaches this node's service replicas at (host:port is
  reported once a replica is ready); default the node's first external address.
`;

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        market: { type: 'string' },
        key: { type: 'string' },
        region: { type: 'string' },
        block: { type: 'string' },
        'reserve-price': { type: 'string' },
        'node-id': { type: 'string' },
        'nvidia-smi': { type: 'string' },
        'gpu-model': { type: 'string' },
        'nvlink-domain': { type: 'string' },
        compliance: { type: 'string' },
        'state-dir': { type: 'string' },
        'wait-seconds': { type: 'string' },
        'key-file': { type: 'string' },
        runtime: { type: 'string' },
        'workload-user': { type: 'string' },
        'scratch-dir': { type: 'string' },
        network: { type: 'string' },
        'heartbeat-seconds': { type: 'string' },
        'gpu-scan-seconds': { type: 'string' },
        'advertise-host': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    return (error as Error).message;
  }
  let key = values.key ?? env.GPUMARKET_PROVIDER_KEY;
  if (values['key-file']) {
    try {
      key = readFileSync(values['key-file'], 'utf8').trim();
    } catch (error) {
      return `--key-file: cannot read ${values['key-file']} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
    }
    if (!key) return `--key-file: ${values['key-file']} is empty`;
  }
  const missing = ['market', 'region', 'block', 'reserve-price'].filter((name) => !values[name as keyof typeof values]);
  if (!key) missing.push('key');
  if (missing.length > 0 || !key) return `missing --${missing.join(', --')}`;
  try {
    const url = new URL(values.market!);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return '--market must be an http(s) URL';
  } catch {
    return '--market must be a URL';
  }
  if (!/^\d+(\.\d{1,4})?$/.test(values['reserve-price']!))
    return '--reserve-price must be a decimal with at most 4 decimals';
  const waitSeconds = values['wait-seconds'] === undefined ? 25 : Number(values['wait-seconds']);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 60)
    return '--wait-seconds must be an integer from 1 to 60';
  const runtime = values.runtime ?? 'auto';
  if (!['auto', 'process', 'docker', 'podman'].includes(runtime)) return '--runtime must be process, docker or podman';
  const heartbeatSeconds = values['heartbeat-seconds'] === undefined ? 15 : Number(values['heartbeat-seconds']);
  if (!Number.isInteger(heartbeatSeconds) || heartbeatSeconds < 1 || heartbeatSeconds > 300)
    return '--heartbeat-seconds must be an integer from 1 to 300';
  const gpuScanSeconds = values['gpu-scan-seconds'] === undefined ? 60 : Number(values['gpu-scan-seconds']);
  if (!Number.isInteger(gpuScanSeconds) || gpuScanSeconds < 5 || gpuScanSeconds > 3600)
    return '--gpu-scan-seconds must be an integer from 5 to 3600';
  const advertiseHost = values['advertise-host'];
  // A host name, an IPv4 address or a bracketed IPv6 one: what goes before ":port".
  if (advertiseHost !== undefined && !/^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])$/.test(advertiseHost))
    return '--advertise-host must be a host name, an IPv4 address or a bracketed IPv6 address';
  const workloadUser = values['workload-user'] ?? (canSwitchUsers() ? 'gpumarket' : undefined);
  if (workloadUser !== undefined && !/^[a-z_][a-z0-9_-]{0,20}$/.test(workloadUser))
    return '--workload-user must be a user name prefix (a-z, 0-9, _ and -, at most 21 characters)';
  return {
    marketUrl: values.market!,
    key,
    region: values.region!,
    block: values.block!,
    reservePrice: values['reserve-price']!,
    externalId: values['node-id'] ?? hostname(),
    nvidiaSmi: values['nvidia-smi'] ?? env.GPUMARKET_NVIDIA_SMI ?? 'nvidia-smi',
    gpuModel: values['gpu-model'],
    nvlinkDomain: values['nvlink-domain'],
    compliance: values.compliance
      ?.split(',')
      .map((tag) => tag.trim())
      .filter((tag) => tag !== ''),
    stateDir: values['state-dir'] ?? '/var/lib/gpumarket-agent',
    pollWaitSeconds: waitSeconds,
    runtime: runtime as AgentConfig['runtime'],
    workloadUser,
    scratchDir: values['scratch-dir'],
    containerNetwork: values.network,
    heartbeatSeconds,
    gpuScanSeconds,
    ...(advertiseHost !== undefined ? { advertiseHost } : {}),
  };
}

/** Runs the agent until `stop` aborts (the command wires it to SIGINT/SIGTERM). */
export async function runAgent(argv: string[], stop: AbortSignal): Promise<number> {
  const config = parseAgentArgs(argv);
  // The key lives on in the market client only: nothing the agent starts can inherit it.
  delete process.env.GPUMARKET_PROVIDER_KEY;
  if (typeof config === 'string') {
    process.stderr.write(`gpumarket agent: ${config}\n${usage}`);
    return 2;
  }
  if (argv.some((arg) => arg === '--key' || arg.startsWith('--key='))) {
    process.stderr.write('gpumarket agent: WARNING: --key puts the provider key in the process list; use --key-file\n');
  }
  let agent;
  try {
    agent = await createNodeAgent(config);
  } catch (error) {
    process.stderr.write(`gpumarket agent: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    agent.start();
  } catch (error) {
    process.stderr.write(`gpumarket agent: ${(error as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) =>
    stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true }),
  );
  await agent.stop();
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runAgent(argv, stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
