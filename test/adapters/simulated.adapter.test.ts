import { describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { adapterContract, contractOrder, type ContractFleet } from './contract/adapter-contract.js';

function simulatedFleet(options: { timeScale?: number } = {}): ContractFleet & { adapter: SimulatedAdapter; clock: { now: number } } {
  const clock = { now: Date.parse('2026-11-22T00:00:00Z') };
  const adapter = new SimulatedAdapter({
    nodes: [{ externalId: 'sim-node-1', gpus: 8 }],
    now: () => clock.now,
    timeScale: options.timeScale,
  });
  return {
    adapter,
    clock,
    node: { nodeId: 'node-1', externalId: 'sim-node-1', gpus: 8, gpuType: 'h100' },
    graceSeconds: 30,
    settleMs: 120_000,
    workload: () => ({ command: ['train.py'] }),
    prepare(leaseId, behaviour) {
      if (behaviour.kind === 'exit') adapter.failWorkload(leaseId, behaviour.code, behaviour.afterSeconds);
      if (behaviour.kind === 'ignore-term') adapter.ignoreTerm(leaseId);
    },
    async observe(leaseId) {
      return {
        starts: adapter.startsOf(leaseId),
        placements: (adapter.placementOf(leaseId) ?? []).map((p) => ({ externalId: p.externalId, gpuIndices: [...p.gpuIndices] })),
        signals: [...adapter.signalsOf(leaseId)],
      };
    },
    async pass(ms) {
      clock.now += ms;
    },
  };
}

adapterContract('simulated', () => simulatedFleet());

describe('simulated fleet', () => {
  it('finishes a workload after its run time divided by the time scale', async () => {
    const fleet = simulatedFleet({ timeScale: 60 });
    const order = { ...contractOrder(fleet, 2, { kind: 'run', seconds: 0 }), runtimeSeconds: 3600 };
    const { handle } = await fleet.adapter.place(order);
    fleet.clock.now += 59_000;
    expect((await fleet.adapter.status(order.leaseId, handle)).state).toBe('running');
    fleet.clock.now += 1_000;
    expect(await fleet.adapter.status(order.leaseId, handle)).toEqual({ state: 'completed', exitCode: 0 });
  });

  it('fails the next orders with the injected error kind, then recovers', async () => {
    const fleet = simulatedFleet();
    fleet.adapter.failNextOrders(1, 'retryable');
    fleet.adapter.failNextOrders(1, 'permanent');
    const order = contractOrder(fleet, 1, { kind: 'run', seconds: 60 });
    const first = await fleet.adapter.place(order).catch((e: unknown) => e);
    const second = await fleet.adapter.place(order).catch((e: unknown) => e);
    expect((first as AdapterError).kind).toBe('retryable');
    expect((second as AdapterError).kind).toBe('permanent');
    await expect(fleet.adapter.place(order)).resolves.toHaveProperty('handle');
  });

  it('frees GPUs when a workload ends, and refuses a placement while they are busy as retryable', async () => {
    const fleet = simulatedFleet();
    const full = contractOrder(fleet, 8, { kind: 'run', seconds: 10 });
    await fleet.adapter.place(full);
    const waiting = contractOrder(fleet, 1, { kind: 'run', seconds: 10 });
    const busy = await fleet.adapter.place(waiting).catch((e: unknown) => e);
    expect((busy as AdapterError).kind).toBe('retryable');
    fleet.clock.now += 10_000;
    await expect(fleet.adapter.place(waiting)).resolves.toHaveProperty('handle');
  });
});
