import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterError } from '../../src/modules/dispatch/adapters/provider-adapter.js';
import {
  KubernetesAdapter,
  remainingGrace,
} from '../../src/modules/dispatch/adapters/kubernetes/kubernetes.adapter.js';
import { adapterContract, contractOrder, waitForState, type ContractFleet } from './contract/adapter-contract.js';
import { FakeKubeApiServer } from './support/fake-kube-api-server.js';
import { probeCommand, readProbeLog } from './support/probe-log.js';

// Against a local HTTP server speaking the Pods API subset the adapter uses (no real API server
// can run here; see docs/adapters.md), whose small kubelet runs containers as local processes.
const logs = mkdtempSync(join(tmpdir(), 'gpumarket-k8s-probe-'));
const api = new FakeKubeApiServer([{ name: 'gpu-worker-1', gpus: 8 }], 'test-token');

beforeAll(async () => {
  await api.start();
});

afterAll(async () => {
  await api.stop();
});

function kubeConfig(token = 'test-token'): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server: api.url, skipTLSVerify: true }],
    users: [{ name: 'gpumarket', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'gpumarket', namespace: 'gpu-leases' }],
    currentContext: 'test',
  });
  return config;
}

function kubeFleet(): ContractFleet & { adapter: KubernetesAdapter } {
  const instance = () =>
    new KubernetesAdapter({ kubeConfig: kubeConfig(), namespace: 'gpu-leases', noticeSeconds: 120 });
  return {
    adapter: instance(),
    fresh: instance,
    node: { nodeId: 'node-1', externalId: 'gpu-worker-1', gpus: 8 },
    graceSeconds: 2,
    settleMs: 15_000,
    workload: (leaseId, behaviour) => ({
      image: 'nvcr.io/nvidia/pytorch:24.05-py3',
      command: probeCommand(join(logs, `${leaseId}.jsonl`), behaviour),
    }),
    observe: async (leaseId) => readProbeLog(join(logs, `${leaseId}.jsonl`)),
    pass: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

adapterContract('kubernetes', kubeFleet);

describe('kubernetes adapter', () => {
  it('creates a pod bound to the granted node, asking nvidia.com/gpu, labelled with the lease, with the notice as grace', async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 4, { kind: 'run', seconds: 30 });
    const { handle } = await fleet.adapter.place({ ...order, workload: { ...order.workload, env: { RUN: 'r1' } } });
    const [pod] = await fleet.adapter.podsOfLease(order.leaseId);
    expect(pod!.spec!.nodeName).toBe('gpu-worker-1');
    expect(pod!.spec!.terminationGracePeriodSeconds).toBe(120);
    expect(pod!.spec!.restartPolicy).toBe('Never');
    expect(pod!.spec!.containers[0]!.resources!.limits).toEqual({ 'nvidia.com/gpu': '4' });
    expect(pod!.spec!.containers[0]!.image).toBe('nvcr.io/nvidia/pytorch:24.05-py3');
    expect(pod!.spec!.containers[0]!.env).toContainEqual({ name: 'RUN', value: 'r1' });
    expect(pod!.metadata!.annotations!['gpumarket.io/lease-id']).toBe(order.leaseId);
    await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
  });

  it('deletes with the notice as grace period on preemption', async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 1, { kind: 'ignore-term', seconds: 60 });
    const { handle } = await fleet.adapter.place(order);
    await waitForState(fleet, order, handle, ['running']);
    // The probe must have its SIGTERM handler in place before the notice starts.
    while ((await fleet.observe(order.leaseId)).starts === 0) await fleet.pass(50);
    const before = Date.now();
    await fleet.adapter.preempt({ leaseId: order.leaseId, handle, graceSeconds: 45 });
    const [pod] = await fleet.adapter.podsOfLease(order.leaseId);
    expect(pod!.metadata!.deletionGracePeriodSeconds).toBe(45);
    // As the API server sets it: the time the pod will be deleted, not the time of the request.
    const deadline = new Date(pod!.metadata!.deletionTimestamp!).getTime();
    expect(deadline).toBeGreaterThanOrEqual(before + 44_000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 46_000);
    expect(remainingGrace(pod!)).toBeGreaterThan(40);
    // A second preemption with a longer grace changes nothing: the API only ever shortens it.
    await fleet.fresh().preempt({ leaseId: order.leaseId, handle, graceSeconds: 90 });
    expect((await fleet.adapter.podsOfLease(order.leaseId))[0]!.metadata!.deletionGracePeriodSeconds).toBe(45);
    expect(await fleet.adapter.status(order.leaseId, handle)).toMatchObject({
      state: 'running',
      message: expect.stringMatching(/terminating/),
    });
    // Terminating during the notice shortens the grace: the pod is gone long before 45 s.
    await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
    expect((await waitForState(fleet, order, handle, ['stopped', 'failed'], { stopRequested: true })).state).toBe(
      'stopped',
    );
  });

  it('reports a pod the kubelet rejected for lack of GPUs as failed with the reason, not lost', async () => {
    const fleet = kubeFleet();
    const hog = contractOrder(fleet, 8, { kind: 'run', seconds: 30 });
    const held = await fleet.adapter.place(hog);
    await waitForState(fleet, hog, held.handle, ['running']);
    const late = contractOrder(fleet, 2, { kind: 'run', seconds: 30 });
    const { handle } = await fleet.adapter.place(late);
    const status = await waitForState(fleet, late, handle, ['failed', 'running']);
    expect(status).toMatchObject({ state: 'failed', message: expect.stringMatching(/OutOfnvidia.com\/gpu/) });
    await fleet.adapter.terminate({ leaseId: hog.leaseId, handle: held.handle, graceSeconds: 0 });
  });

  it('turns API server overload into a retryable error and bad credentials into a permanent one', async () => {
    const fleet = kubeFleet();
    api.failNext = 1;
    const busy = await fleet.adapter
      .place(contractOrder(fleet, 1, { kind: 'run', seconds: 1 }))
      .catch((e: unknown) => e);
    expect((busy as AdapterError).kind).toBe('retryable');
    const stranger = new KubernetesAdapter({ kubeConfig: kubeConfig('wrong-token'), namespace: 'gpu-leases' });
    const denied = await stranger.place(contractOrder(fleet, 1, { kind: 'run', seconds: 1 })).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(AdapterError);
    expect((denied as AdapterError).kind).toBe('permanent');
  });

  it('rejects a workload without an image when no default image is configured', async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 1, { kind: 'run', seconds: 1 });
    const error = await fleet.adapter.place({ ...order, workload: { command: ['true'] } }).catch((e: unknown) => e);
    expect((error as AdapterError).kind).toBe('permanent');
  });

  it("reports a pod deleted behind the market's back as failed, vanished, the platform's failure; after the market's own stop as stopped", async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 1, { kind: 'run', seconds: 30 });
    const { handle } = await fleet.adapter.place(order);
    await waitForState(fleet, order, handle, ['running']);
    // Someone else deletes it (kubectl delete): the market ordered no stop.
    const kubectl = new KubernetesAdapter({ kubeConfig: kubeConfig(), namespace: 'gpu-leases' });
    await kubectl.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    while ((await fleet.adapter.podsOfLease(order.leaseId)).length > 0) await fleet.pass(100);
    expect(await fleet.adapter.status(order.leaseId, handle)).toMatchObject({
      state: 'failed',
      cause: 'platform',
      message: expect.stringMatching(/vanished/),
    });
    // Had the market ordered the stop, any instance reads the same absence as stopped.
    expect(await fleet.fresh().status(order.leaseId, handle, { stopRequested: true })).toMatchObject({
      state: 'stopped',
    });
  });

  it("reports a pod whose image cannot be pulled as pending, with the kubelet's reason for the start timeout", async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 1, { kind: 'run', seconds: 30 });
    api.unpullableImages.add('registry.example/missing:1');
    const { handle } = await fleet.adapter.place({
      ...order,
      workload: { ...order.workload, image: 'registry.example/missing:1' },
    });
    let status = await fleet.adapter.status(order.leaseId, handle);
    while (status.waitingReason !== 'ImagePullBackOff') {
      expect(status.state).toBe('pending');
      await fleet.pass(50);
      status = await fleet.adapter.status(order.leaseId, handle);
    }
    expect(status).toMatchObject({
      state: 'pending',
      waitingReason: 'ImagePullBackOff',
      message: expect.stringMatching(/registry.example\/missing:1/),
    });
    // The start timeout then stops it: a pending pod that never started goes at once.
    await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
    expect((await waitForState(fleet, order, handle, ['stopped', 'failed'], { stopRequested: true })).state).toBe(
      'stopped',
    );
  });

  it('stops with a grace of at least 1 s, so that the pod stays visible until its containers have ended', async () => {
    const fleet = kubeFleet();
    const order = contractOrder(fleet, 1, { kind: 'ignore-term', seconds: 60 });
    const { handle } = await fleet.adapter.place(order);
    await waitForState(fleet, order, handle, ['running']);
    await fleet.adapter.terminate({ leaseId: order.leaseId, handle, graceSeconds: 0 });
    const [pod] = await fleet.adapter.podsOfLease(order.leaseId);
    // Still listed (terminating) right after the delete; a grace of 0 would have removed it from
    // the API while the kubelet was still killing the process.
    expect(pod?.metadata?.deletionGracePeriodSeconds).toBe(1);
    expect((await waitForState(fleet, order, handle, ['stopped', 'failed'], { stopRequested: true })).state).toBe(
      'stopped',
    );
    expect((await fleet.observe(order.leaseId)).alive ?? false).toBe(false);
  });
});
