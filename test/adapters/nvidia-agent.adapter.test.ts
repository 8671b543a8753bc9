import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvidiaAgentAdapter } from '../../src/modules/dispatch/adapters/nvidia-agent/nvidia-agent.adapter.js';
import { adapterContract, contractOrder, waitForState, type ContractFleet } from './contract/adapter-contract.js';
import { AgentTestRig, FAKE_NVIDIA_SMI } from './support/agent-fleet.js';
import { probeCommand, readProbeLog } from './support/probe-log.js';

// The market side of the adapter against the real agent runtime (child processes, signals,
// state file), over HTTP, with nvidia-smi output read from fixture files.
const logs = mkdtempSync(join(tmpdir(), 'gpumarket-agent-probe-'));
const rig = new AgentTestRig();

beforeAll(async () => {
  await rig.server.start();
  await rig.startAgent();
});

afterAll(async () => {
  await rig.close();
});

function agentFleet(target = rig): ContractFleet {
  const instance = () => new NvidiaAgentAdapter(target.queue, { ackTimeoutMs: 10_000 });
  return {
    adapter: instance(),
    fresh: instance,
    node: { nodeId: 'node-1', externalId: target.node, gpus: 8 },
    graceSeconds: 2,
    settleMs: 15_000,
    workload: (leaseId, behaviour) => ({ command: probeCommand(join(logs, `${leaseId}.jsonl`), behaviour) }),
    observe: async (leaseId) => readProbeLog(join(logs, `${leaseId}.jsonl`)),
    pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('condition not met in time');
}

adapterContract('nvidia-agent', () => agentFleet());

describe('gpumarket agent', () => {
  it('registers its node with the catalogue model, the GPU count from nvidia-smi and the flags', async () => {
    await until(() => rig.server.registrations.length > 0);
    expect(rig.server.registrations[0]).toEqual({
      externalId: 'gpu-host-1',
      gpuModel: 'H100-SXM-80GB',
      gpus: 8,
      region: 'eu-west',
      block: 'ib-leaf-1',
      reservePrice: '1.80',
    });
  });

  it("runs the workload with only the lease's environment, not the agent's own", async () => {
    process.env.GPUMARKET_AGENT_SECRET = 'must-not-leak';
    const fleet = agentFleet();
    const order = contractOrder(fleet, 2, { kind: 'run', seconds: 0 });
    const envFile = join(logs, `${order.leaseId}.env`);
    const { handle } = await fleet.adapter.place({
      ...order,
      workload: { command: ['/bin/sh', '-c', `env > ${envFile}`], env: { RUN_NAME: 'r1' } },
    });
    await waitForState(fleet, order, handle, ['completed']);
    const { readFileSync } = await import('node:fs');
    const env = readFileSync(envFile, 'utf8');
    expect(env).toContain('RUN_NAME=r1');
    expect(env).toContain('CUDA_DEVICE_ORDER=PCI_BUS_ID');
    expect(env).toMatch(/^CUDA_VISIBLE_DEVICES=\d+,\d+$/m);
    expect(env).not.toContain('must-not-leak');
  });
});

describe('gpumarket agent across restarts', () => {
  it('re-adopts running workloads after its own restart and never starts a second copy', async () => {
    const local = new AgentTestRig('gpu-host-2');
    await local.server.start();
    try {
      await local.startAgent();
      const fleet = agentFleet(local);
      const order = contractOrder(fleet, 4, { kind: 'run', seconds: 60 });
      const { handle } = await fleet.adapter.place(order);
      await waitForState(fleet, order, handle, ['running']);
      const before = local.agent!.snapshot()[0]!;

      await local.stopAgent();
      await local.startAgent();
      // A market that lost its queue re-sends the place order: the agent answers with what runs.
      const forgetful = new NvidiaAgentAdapter(local.queue, { ackTimeoutMs: 10_000 });
      local.queue.forgetOrdersOf(order.leaseId);
      expect((await forgetful.place(order)).handle).toBe(handle);
      const after = local.agent!.snapshot()[0]!;
      expect(after.pid).toBe(before.pid);
      expect(after.gpuIndices).toEqual(before.gpuIndices);
      expect(readProbeLog(join(logs, `${order.leaseId}.jsonl`)).starts).toBe(1);

      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: 1 });
      expect((await waitForState(fleet, order, handle, ['stopped', 'failed', 'completed'])).state).toBe('stopped');
    } finally {
      await local.close();
    }
  });

  it('reports the workloads that ended while it was down, with their exit codes', async () => {
    const local = new AgentTestRig('gpu-host-3');
    await local.server.start();
    try {
      await local.startAgent();
      const fleet = agentFleet(local);
      const quick = contractOrder(fleet, 1, { kind: 'exit', code: 4, afterSeconds: 1 });
      const killed = contractOrder(fleet, 1, { kind: 'run', seconds: 60 });
      const a = await fleet.adapter.place(quick);
      const b = await fleet.adapter.place(killed);
      await waitForState(fleet, killed, b.handle, ['running']);
      const victim = local.agent!.snapshot().find((lease) => lease.leaseId === killed.leaseId)!;
      await local.stopAgent();

      process.kill(-victim.pid, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await local.startAgent();
      expect(await waitForState(fleet, quick, a.handle, ['completed', 'failed'])).toMatchObject({
        state: 'failed',
        exitCode: 4,
      });
      const lost = await waitForState(fleet, killed, b.handle, ['completed', 'failed', 'stopped']);
      expect(lost.state).toBe('failed');
      expect(lost.message).toMatch(/agent was not running/);
    } finally {
      await local.close();
    }
  });

  it('keeps serving across a restart of the market, and re-syncs what the market believes', async () => {
    const local = new AgentTestRig('gpu-host-4');
    await local.server.start();
    try {
      await local.startAgent();
      const fleet = agentFleet(local);
      const order = contractOrder(fleet, 1, { kind: 'exit', code: 0, afterSeconds: 2 });
      const { handle } = await fleet.adapter.place(order);
      await waitForState(fleet, order, handle, ['running']);

      await local.server.stop();
      // While the market is down the market's records claim a lease this node never ran.
      local.queue.registerNode('gpu-host-4');
      await local.queue.enqueue('gpu-host-4', { type: 'place', leaseId: 'lease-phantom', place: undefined });
      await local.queue.acknowledge((await local.queue.pull('gpu-host-4', 0))[0]!.id, { ok: true });
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await local.server.start();

      expect(await waitForState(fleet, order, handle, ['completed', 'failed'])).toMatchObject({
        state: 'completed',
        exitCode: 0,
      });
      await until(() => local.server.reports.some((report) => report.leaseId === 'lease-phantom'));
      expect(local.server.reports.find((report) => report.leaseId === 'lease-phantom')).toMatchObject({
        state: 'failed',
      });
      expect(readProbeLog(join(logs, `${order.leaseId}.jsonl`)).starts).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('sends SIGKILL at the end of a notice even when it restarted during the notice', async () => {
    const local = new AgentTestRig('gpu-host-5');
    await local.server.start();
    try {
      await local.startAgent();
      const fleet = agentFleet(local);
      const order = contractOrder(fleet, 1, { kind: 'ignore-term', seconds: 60 });
      const { handle } = await fleet.adapter.place(order);
      await waitForState(fleet, order, handle, ['running']);
      await until(() => readProbeLog(join(logs, `${order.leaseId}.jsonl`)).starts === 1);
      await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: 2 });
      await local.stopAgent();
      await local.startAgent();
      expect((await waitForState(fleet, order, handle, ['stopped', 'failed', 'completed'])).state).toBe('stopped');
      const seen = readProbeLog(join(logs, `${order.leaseId}.jsonl`));
      expect(seen.signals).toEqual(['SIGTERM']);
      expect(seen.alive).toBe(false);
    } finally {
      await local.close();
    }
  });
});

describe('nvidia-agent adapter over several nodes', () => {
  it('starts one part per granted node and completes the lease only when every part has', async () => {
    const local = new AgentTestRig('gpu-host-6');
    await local.server.start();
    const { createNodeAgent } = await import('../../src/agent/agent-bootstrap.js');
    const second = await createNodeAgent(
      {
        marketUrl: local.server.url,
        key: 'gpm_provider_test_key',
        region: 'eu-west',
        block: 'ib-leaf-1',
        reservePrice: '1.80',
        externalId: 'gpu-host-7',
        nvidiaSmi: FAKE_NVIDIA_SMI,
        stateDir: mkdtempSync(join(tmpdir(), 'gpumarket-agent-')),
        pollWaitSeconds: 2,
        monitorIntervalMs: 100,
      },
      () => undefined,
    );
    try {
      await local.startAgent();
      second.start();
      await second.ready;
      const fleet = agentFleet(local);
      const base = contractOrder(fleet, 8, { kind: 'exit', code: 0, afterSeconds: 1 });
      const order = {
        ...base,
        nodes: [base.nodes[0]!, { ...base.nodes[0]!, nodeId: 'node-7', externalId: 'gpu-host-7', gpus: 4 }],
      };
      const { handle } = await fleet.adapter.place(order);
      expect(await waitForState(fleet, order, handle, ['completed', 'failed'])).toMatchObject({ state: 'completed' });
      const seen = readProbeLog(join(logs, `${order.leaseId}.jsonl`));
      expect(seen.starts).toBe(2);
      expect(seen.placements.map((p) => [p.externalId, p.gpuIndices.length]).sort()).toEqual([
        ['gpu-host-6', 8],
        ['gpu-host-7', 4],
      ]);
    } finally {
      await second.stop();
      await local.close();
    }
  });
});
