import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeAgent } from '../../src/agent/agent-bootstrap.js';
import type { NodeAgent } from '../../src/agent/node-agent.js';
import { FAKE_NVIDIA_SMI, NVIDIA_SMI_FIXTURES } from '../adapters/support/agent-fleet.js';

/**
 * The real `gpumarket agent` (process runtime) on this machine, its GPUs from nvidia-smi
 * fixtures (8 x H100 SXM by default), registered with the market at `marketUrl` and ready.
 */
export async function startFakeGpuAgent(options: {
  readonly marketUrl: string;
  readonly key: string;
  readonly externalId: string;
  readonly region: string;
  readonly reservePrice?: string;
  readonly monitorIntervalMs?: number;
  readonly advertiseHost?: string;
}): Promise<NodeAgent> {
  process.env.FAKE_NVIDIA_SMI_DIR = NVIDIA_SMI_FIXTURES;
  process.env.FAKE_NVIDIA_SMI_MACHINE = 'h100-8x';
  const agent = await createNodeAgent(
    {
      marketUrl: options.marketUrl,
      key: options.key,
      region: options.region,
      block: 'ib-leaf-1',
      reservePrice: options.reservePrice ?? '1.00',
      externalId: options.externalId,
      nvidiaSmi: FAKE_NVIDIA_SMI,
      stateDir: mkdtempSync(join(tmpdir(), 'gpumarket-agent-state-')),
      pollWaitSeconds: 2,
      monitorIntervalMs: options.monitorIntervalMs ?? 50,
      ...(options.advertiseHost ? { advertiseHost: options.advertiseHost } : {}),
    },
    () => undefined,
  );
  agent.start();
  await agent.ready;
  return agent;
}

/** Stops the agent and kills what it started (its workloads outlive it by design). */
export async function stopFakeGpuAgent(agent: NodeAgent | undefined): Promise<void> {
  const leases = agent?.snapshot() ?? [];
  await agent?.stop();
  for (const lease of leases) {
    try {
      process.kill(-lease.pid, 'SIGKILL');
    } catch {
      // already ended
    }
  }
}
