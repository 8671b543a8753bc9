import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeAgent, type AgentConfig } from '../../../src/agent/agent-bootstrap.js';
import { killCgroup, removeCgroup } from '../../../src/agent/lease-cgroup.js';
import type { NodeAgent } from '../../../src/agent/node-agent.js';
import { InMemoryAgentOrderQueue } from '../../../src/modules/dispatch/adapters/nvidia-agent/in-memory-agent-order-queue.js';
import { AgentMarketServer } from './agent-market-server.js';

export const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../fixtures/nvidia-smi/fake-nvidia-smi.sh', import.meta.url));
export const NVIDIA_SMI_FIXTURES = fileURLToPath(new URL('../fixtures/nvidia-smi/', import.meta.url));
export const PROVIDER_KEY = 'gpm_provider_test_key';

/** The real agent runtime against the test market server, with nvidia-smi output from fixtures. */
export class AgentTestRig {
  readonly queue = new InMemoryAgentOrderQueue();
  readonly server: AgentMarketServer;
  readonly stateDir = mkdtempSync(join(tmpdir(), 'gpumarket-agent-'));
  readonly lines: string[] = [];
  agent?: NodeAgent;

  constructor(
    readonly node = 'gpu-host-1',
    readonly machine = 'h100-8x',
    /** Extra agent settings (runtime, workload users, heartbeats); default: process runtime, agent's own user. */
    readonly settings: Partial<AgentConfig> = {},
  ) {
    this.server = new AgentMarketServer(this.queue, settings.key ?? PROVIDER_KEY);
  }

  async startAgent(): Promise<NodeAgent> {
    process.env.FAKE_NVIDIA_SMI_DIR = NVIDIA_SMI_FIXTURES;
    process.env.FAKE_NVIDIA_SMI_MACHINE = this.machine;
    const agent = await createNodeAgent(
      {
        marketUrl: this.server.url,
        key: PROVIDER_KEY,
        region: 'eu-west',
        block: 'ib-leaf-1',
        reservePrice: '1.80',
        externalId: this.node,
        nvidiaSmi: FAKE_NVIDIA_SMI,
        stateDir: this.stateDir,
        pollWaitSeconds: 2,
        monitorIntervalMs: 100,
        ...this.settings,
      },
      (line) => this.lines.push(line),
    );
    agent.start();
    this.agent = agent;
    await agent.ready;
    return agent;
  }

  async stopAgent(): Promise<void> {
    await this.agent?.stop();
    this.agent = undefined;
  }

  /** Kills whatever workloads the agent still runs (tests end; tenants' jobs would not). */
  async close(): Promise<void> {
    const leases = this.agent?.snapshot() ?? [];
    await this.stopAgent();
    for (const lease of leases) {
      if (lease.pid <= 0) continue; // a container: nothing of it is a local process group
      try {
        process.kill(-lease.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      if (lease.cgroupProcs) {
        killCgroup(lease.cgroupProcs);
        // The cgroup can be removed once the kernel has taken its last process out.
        for (let i = 0; i < 100 && !removeCgroup(lease.cgroupProcs); i += 1)
          await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await this.server.stop();
  }
}
