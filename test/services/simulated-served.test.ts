import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkloadStatus } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import {
  SERVICE_PORT_ENV,
  SERVICE_READINESS_ENV,
} from '../../src/modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { SimulatedAdapter, stopServedProcesses } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { until } from '../support/until.js';

const REPLICA = resolve(import.meta.dirname, 'replica-server.mjs');

function order(leaseId: string, command: string[], env: Record<string, string> = {}) {
  return {
    leaseId,
    bidId: `bid-${leaseId}`,
    tenantId: 'tenant',
    gpuModel: 'H100-SXM-80GB',
    nodes: [{ nodeId: 'n1', externalId: 'sim-a', gpus: 1 }],
    workload: { command, env: { [SERVICE_PORT_ENV]: '8080', [SERVICE_READINESS_ENV]: '/ready', ...env } },
    runtimeSeconds: 3600,
  };
}

describe('the simulated fleet runs a served workload as a real process', () => {
  afterEach(() => stopServedProcesses());

  it('reports the endpoint once the readiness path answers 200, with its start times, and stops it on preemption', async () => {
    const fleet = new SimulatedAdapter({ nodes: [{ externalId: 'sim-a', gpus: 8 }] });
    const { handle } = await fleet.place(order('l1', [process.execPath, REPLICA], { READY_DELAY_MS: '300' }));
    const first = await fleet.status('l1', handle);
    expect(first).toMatchObject({ state: 'running' });
    expect(first.endpoint).toBeUndefined();
    let status: WorkloadStatus = first;
    await until('the endpoint', async () => (status = await fleet.status('l1', handle)).endpoint !== undefined, 10_000);
    expect(status.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(status.serving!.readyAt! - status.serving!.spawnedAt).toBeGreaterThanOrEqual(300);
    expect(status.serving!.listeningAt).toBeLessThanOrEqual(status.serving!.readyAt!);
    const answer = await fetch(`http://${status.endpoint}/work`);
    expect(((await answer.json()) as { port: number }).port).toBe(Number(status.endpoint!.split(':')[1]));
    // Placing again (a retried order) starts nothing new.
    await fleet.place(order('l1', [process.execPath, REPLICA]));
    expect(fleet.startsOf('l1')).toBe(1);

    await fleet.preempt({ leaseId: 'l1', handle, graceSeconds: 30 });
    // Running, without an endpoint, until the process has exited (it finishes what it serves).
    expect(await fleet.status('l1', handle)).toMatchObject({ state: expect.stringMatching(/running|stopped/) });
    await until(
      'the process to stop on SIGTERM',
      async () => (await fleet.status('l1', handle)).state === 'stopped',
      10_000,
    );
  });

  it('fails the lease when the process exits by itself with an error', async () => {
    const fleet = new SimulatedAdapter({ nodes: [{ externalId: 'sim-a', gpus: 8 }] });
    const { handle } = await fleet.place(order('l2', [process.execPath, '-e', 'process.exit(3)']));
    await until('the exit', async () => (await fleet.status('l2', handle)).state === 'failed', 10_000);
    expect(await fleet.status('l2', handle)).toMatchObject({ state: 'failed', exitCode: 3 });
  });

  it('leaves a workload without the service variables to the clock, as before', async () => {
    const fleet = new SimulatedAdapter({ nodes: [{ externalId: 'sim-a', gpus: 8 }] });
    const { handle } = await fleet.place({
      ...order('l3', ['python', 'train.py']),
      workload: { command: ['python', 'train.py'] },
    });
    expect(await fleet.status('l3', handle)).toEqual({ state: 'running' });
  });
});
