import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { createNodeAgent, type AgentConfig } from '../agent/agent-bootstrap.js';

/**
 * `gpumarket agent --market URL --key PROVIDER_KEY --region R --block B --reserve-price P`:
 * runs on a GPU node (docs/adapters.md). Stops on SIGINT/SIGTERM; the workloads it started keep
 * running and are re-adopted by the next agent from the state directory.
 * Exit codes: 0 stopped by a signal, 1 could not start (nvidia-smi, state file), 2 bad usage.
 */
export const usage = `usage: gpumarket agent --market URL --key PROVIDER_KEY --region REGION --block BLOCK --reserve-price PRICE
         [--node-id ID] [--nvidia-smi PATH] [--gpu-model NAME] [--nvlink-domain ID] [--compliance TAG,...]
         [--state-dir DIR] [--wait-seconds N]
  The key may also come from GPUMARKET_PROVIDER_KEY (keeps it out of the process list), and the
  nvidia-smi path from GPUMARKET_NVIDIA_SMI.
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
      },
      strict: true,
    }));
  } catch (error) {
    return (error as Error).message;
  }
  const key = values.key ?? env.GPUMARKET_PROVIDER_KEY;
  const missing = ['market', 'region', 'block', 'reserve-price'].filter((name) => !values[name as keyof typeof values]);
  if (!key) missing.push('key');
  if (missing.length > 0 || !key) return `missing --${missing.join(', --')}`;
  try {
    const url = new URL(values.market!);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return '--market must be an http(s) URL';
  } catch {
    return '--market must be a URL';
  }
  if (!/^\d+(\.\d{1,4})?$/.test(values['reserve-price']!)) return '--reserve-price must be a decimal with at most 4 decimals';
  const waitSeconds = values['wait-seconds'] === undefined ? 25 : Number(values['wait-seconds']);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 60) return '--wait-seconds must be an integer from 1 to 60';
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
    compliance: values.compliance?.split(',').map((tag) => tag.trim()).filter((tag) => tag !== ''),
    stateDir: values['state-dir'] ?? '/var/lib/gpumarket-agent',
    pollWaitSeconds: waitSeconds,
  };
}

/** Runs the agent until `stop` aborts (the command wires it to SIGINT/SIGTERM). */
export async function runAgent(argv: string[], stop: AbortSignal): Promise<number> {
  const config = parseAgentArgs(argv);
  if (typeof config === 'string') {
    process.stderr.write(`gpumarket agent: ${config}\n${usage}`);
    return 2;
  }
  let agent;
  try {
    agent = await createNodeAgent(config);
  } catch (error) {
    process.stderr.write(`gpumarket agent: ${(error as Error).message}\n`);
    return 1;
  }
  agent.start();
  await new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true })));
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
