import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentArgs, runAgent, usage } from '../../src/cli/agent.command.js';
import { InMemoryAgentOrderQueue } from '../../src/modules/dispatch/adapters/nvidia-agent/in-memory-agent-order-queue.js';
import { AgentMarketServer } from './support/agent-market-server.js';
import { FAKE_NVIDIA_SMI, NVIDIA_SMI_FIXTURES } from './support/agent-fleet.js';

const server = new AgentMarketServer(new InMemoryAgentOrderQueue(), 'cli-key');

beforeAll(async () => {
  await server.start();
});

afterAll(async () => {
  await server.stop();
});

describe('gpumarket agent command', () => {
  it('registers the node it discovers through the nvidia-smi given by GPUMARKET_NVIDIA_SMI, then stops on request', async () => {
    process.env.FAKE_NVIDIA_SMI_DIR = NVIDIA_SMI_FIXTURES;
    process.env.FAKE_NVIDIA_SMI_MACHINE = 'l40s-4x';
    process.env.GPUMARKET_NVIDIA_SMI = FAKE_NVIDIA_SMI;
    process.env.GPUMARKET_PROVIDER_KEY = 'cli-key';
    const stop = new AbortController();
    const argv = [
      '--market',
      server.url,
      '--region',
      'us-east',
      '--block',
      'pcie-1',
      '--reserve-price',
      '0.95',
      '--node-id',
      'l40s-box',
      '--compliance',
      'soc2',
      '--state-dir',
      mkdtempSync(join(tmpdir(), 'gpumarket-agent-cli-')),
      '--wait-seconds',
      '1',
    ];
    const exit = runAgent(argv, stop.signal);
    for (let i = 0; i < 100 && server.registrations.length === 0; i += 1) await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    expect(await exit).toBe(0);
    expect(server.registrations[0]).toEqual({
      externalId: 'l40s-box',
      gpuModel: 'L40S-48GB',
      gpus: 4,
      region: 'us-east',
      block: 'pcie-1',
      reservePrice: '0.95',
      compliance: ['soc2'],
    });
  });

  it('refuses bad flags with a message naming the flag', () => {
    expect(
      parseAgentArgs(['--market', 'http://m', '--region', 'r', '--block', 'b', '--reserve-price', '1.23456'], {
        GPUMARKET_PROVIDER_KEY: 'k',
      }),
    ).toMatch(/--reserve-price/);
    expect(
      parseAgentArgs(['--market', 'http://m', '--region', 'r', '--block', 'b', '--reserve-price', '1'], {}),
    ).toMatch(/--key/);
    expect(
      parseAgentArgs(
        ['--market', 'not a url', '--key', 'k', '--region', 'r', '--block', 'b', '--reserve-price', '1'],
        {},
      ),
    ).toMatch(/--market/);
  });

  it('takes --runtime process|docker|podman and the heartbeat and scan intervals, naming a bad flag', () => {
    const base = ['--market', 'http://m', '--key', 'k', '--region', 'r', '--block', 'b', '--reserve-price', '1'];
    expect(usage).toContain('--runtime process|docker|podman');
    expect(parseAgentArgs([...base, '--runtime', 'lxc'], {})).toMatch(/--runtime/);
    expect(parseAgentArgs([...base, '--heartbeat-seconds', '0'], {})).toMatch(/--heartbeat-seconds/);
    expect(parseAgentArgs([...base, '--gpu-scan-seconds', 'often'], {})).toMatch(/--gpu-scan-seconds/);
    expect(parseAgentArgs([...base, '--workload-user', 'Root!'], {})).toMatch(/--workload-user/);
    const config = parseAgentArgs(
      [...base, '--runtime', 'podman', '--network', 'gpumarket', '--heartbeat-seconds', '10'],
      {},
    );
    expect(config).toMatchObject({
      runtime: 'podman',
      containerNetwork: 'gpumarket',
      heartbeatSeconds: 10,
      gpuScanSeconds: 60,
    });
    // Without --runtime the agent picks docker or podman when the node has one, else process.
    expect(parseAgentArgs(base, {})).toMatchObject({ runtime: 'auto' });
    // An agent that can switch users runs workloads as per-slot users by default.
    const root = process.getuid?.() === 0;
    expect(parseAgentArgs(base, {})).toMatchObject({ workloadUser: root ? 'gpumarket' : undefined });
  });

  /** Flags of an agent whose nvidia-smi is missing (so it stops at start), with `extra` added. */
  const missingSmi = (extra: string[] = []) => [
    '--market',
    server.url,
    ...extra,
    '--region',
    'r',
    '--block',
    'b',
    '--reserve-price',
    '1',
    '--nvidia-smi',
    '/nonexistent/nvidia-smi',
    '--state-dir',
    mkdtempSync(join(tmpdir(), 'gpumarket-agent-cli-')),
  ];

  it('removes the key from its own environment at start', async () => {
    process.env.GPUMARKET_PROVIDER_KEY = 'cli-key';
    await runAgent(missingSmi(), AbortSignal.abort());
    expect(process.env.GPUMARKET_PROVIDER_KEY).toBeUndefined();
  });

  it('exits 1 with the reason when nvidia-smi is missing', async () => {
    expect(await runAgent(missingSmi(['--key', 'cli-key']), AbortSignal.abort())).toBe(1);
  });
});
