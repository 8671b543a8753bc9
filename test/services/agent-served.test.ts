import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeAgent } from '../../src/agent/node-agent.js';
import { startFakeGpuAgent, stopFakeGpuAgent } from '../support/fake-gpu-agent.js';
import { auth, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const REPLICA = resolve(import.meta.dirname, 'replica-server.mjs');
const NODE = 'gpu-svc-1';

/**
 * A service whose replica runs on a GPU node through the real `gpumarket agent` (process runtime,
 * nvidia-smi from fixtures): the agent gives the replica a port of the node in PORT, probes its
 * readiness path, and reports host:port; the market's gateway then sends the held request there.
 * Real app on a port, real PostgreSQL and Redis, real processes.
 */
describe('a service replica on a node agent', () => {
  let t: TestApp;
  let base: string;
  let agent: NodeAgent;
  let tenant: { id: string; apiKey: string };

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', AGENT_ENDPOINTS_ALLOW_LOOPBACK: 'true' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${((t.app.getHttpServer() as Server).address() as AddressInfo).port}`;
    const provider = await createProvider(t, 'agent-fleet', 'nvidia-agent');
    agent = await startFakeGpuAgent({
      marketUrl: base,
      key: provider.apiKey,
      externalId: NODE,
      region: 'svc-region',
      advertiseHost: '127.0.0.1',
    });
    tenant = await createTenant(t, 'svc-agent-tenant');
  });

  afterAll(async () => {
    await stopFakeGpuAgent(agent);
    await t?.close();
  });

  it('answers a cold request from the replica the agent started, at the endpoint it reported, and stops it when the service is deleted', async () => {
    const created = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send({
        name: 'on-agent',
        replica: {
          gpus: 1,
          offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
          contiguity: 'node',
          preemptible: false,
          regions: ['svc-region'],
        },
        minReplicas: 0,
        maxReplicas: 1,
        targetConcurrency: 4,
        pendingTimeoutSeconds: 60,
        workload: { command: [process.execPath, REPLICA], port: 8080, readinessPath: '/ready' },
      });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const svc = created.body as { id: string; invokeKey: string };

    // Cold: held by the gateway until the agent reports the replica ready.
    const answer = await fetch(`${base}/v1/services/${svc.id}/invoke/work?ms=0`, {
      headers: { authorization: `Bearer ${svc.invokeKey}` },
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { pid: number; port: number };

    const view = (await t.http().get(`/v1/services/${svc.id}`).set(auth(tenant.apiKey))).body;
    const [replica] = view.replicas;
    // The replica listens on the node's port the agent chose (not the declared 8080), and the
    // market routes to what the agent reported.
    expect(body.port).not.toBe(8080);
    expect(replica).toMatchObject({ state: 'ready', endpoint: `127.0.0.1:${body.port}` });
    const [lease] = agent.snapshot();
    expect(lease?.serving).toMatchObject({ port: body.port, readinessPath: '/ready' });
    expect(lease!.serving!.readyAt).toBeGreaterThanOrEqual(lease!.serving!.listeningAt!);
    // The cold start is split with the agent's times.
    expect(view.coldStarts[0]).toMatchObject({ fromZero: true });
    const [report] = await t.dataSource.query(`SELECT report FROM agent_status_reports WHERE node = $1`, [NODE]);
    expect(report.report).toMatchObject({ state: 'running', endpoint: `127.0.0.1:${body.port}` });

    // Deleted: the replica drains, its bid is cancelled, and the agent stops the process.
    expect((await t.http().delete(`/v1/services/${svc.id}`).set(auth(tenant.apiKey))).status).toBeLessThan(300);
    await until(
      'the replica process stopped on the node',
      () => agent.snapshot().every((l) => l.ended !== undefined),
      30_000,
    );
    // Nothing answers at the endpoint any more.
    await expect(fetch(`http://127.0.0.1:${body.port}/ready`)).rejects.toThrow();
  }, 60_000);
});
