import type { Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeAgent } from '../../src/agent/node-agent.js';
import { ServicesRunner } from '../../src/modules/services/services-runner.service.js';
import { startFakeGpuAgent, stopFakeGpuAgent } from '../support/fake-gpu-agent.js';
import { auth, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const REPLICA = resolve(import.meta.dirname, 'replica-server.mjs');

/**
 * Two market processes of one market (one database, one set of queues), each with its own
 * gateway: one runs the service (its runner lease), the other only routes. Requests that reach
 * the other process count: its held request starts a replica, its load scales the service up,
 * and when the runner stops the other takes the service over. Replicas run on a node agent, whose
 * reports both processes read from the database.
 */
describe('a service served by two market processes', () => {
  let first: TestApp;
  let second: TestApp;
  const bases = new Map<TestApp, string>();
  /** Apps closed by the test (their process "stopped"); the database goes once both are. */
  const closed = new Set<TestApp>();
  let agent: NodeAgent;
  /** The agent reaches the market through this TCP forwarder: to a process that is still up. */
  let forwarder: TcpServer;
  let upstream: TestApp;
  let tenant: { id: string; apiKey: string };
  const listen = async (t: TestApp) => {
    await t.app.listen(0, '127.0.0.1');
    bases.set(t, `http://127.0.0.1:${((t.app.getHttpServer() as Server).address() as AddressInfo).port}`);
  };
  const invoke = (t: TestApp, svc: { id: string; invokeKey: string }, path: string) =>
    fetch(`${bases.get(t)}/v1/services/${svc.id}/invoke${path}`, {
      headers: { authorization: `Bearer ${svc.invokeKey}` },
    });
  const db = () => (closed.has(first) ? second : first).dataSource;
  const runnerOf = async (serviceId: string) =>
    (await db().query(`SELECT runner_id FROM services WHERE id = $1`, [serviceId]))[0].runner_id as string | null;
  const desired = async (serviceId: string) =>
    (await db().query(`SELECT desired_replicas FROM services WHERE id = $1`, [serviceId]))[0]
      .desired_replicas as number;

  beforeAll(async () => {
    first = await createTestApp({ MIN_HOLD_SECONDS: '1', AGENT_ENDPOINTS_ALLOW_LOOPBACK: 'true' });
    second = await createTestApp(
      { MIN_HOLD_SECONDS: '1', AGENT_ENDPOINTS_ALLOW_LOOPBACK: 'true' },
      { shareDatabaseOf: first },
    );
    await listen(first);
    await listen(second);
    upstream = first;
    forwarder = createTcpServer((client) => {
      const port = Number(new URL(bases.get(upstream)!).port);
      const server = connect(port, '127.0.0.1');
      client.pipe(server).pipe(client);
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
    });
    await new Promise<void>((done) => forwarder.listen(0, '127.0.0.1', done));
    const provider = await createProvider(first, 'agent-fleet', 'nvidia-agent');
    agent = await startFakeGpuAgent({
      marketUrl: `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`,
      key: provider.apiKey,
      externalId: 'gpu-two-proc-1',
      region: 'two-proc',
      advertiseHost: '127.0.0.1',
    });
    tenant = await createTenant(first, 'two-proc-tenant');
  });

  afterAll(async () => {
    await stopFakeGpuAgent(agent);
    forwarder?.close();
    for (const t of [second, first]) {
      if (!t || closed.has(t)) continue;
      (t.app.getHttpServer() as Server).closeAllConnections();
      await t.app.close();
    }
    await first?.database.drop();
  });

  it("starts, scales and keeps a service from either process's traffic, and hands it over when its runner stops", async () => {
    const created = await first
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send({
        name: 'shared',
        replica: {
          gpus: 1,
          offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
          contiguity: 'node',
          preemptible: false,
          regions: ['two-proc'],
        },
        minReplicas: 0,
        maxReplicas: 3,
        targetConcurrency: 1,
        scaleDownDelaySeconds: 1,
        scaleToZeroAfterSeconds: 3,
        stableWindowSeconds: 3,
        panicWindowSeconds: 1,
        pendingTimeoutSeconds: 60,
        workload: { command: [process.execPath, REPLICA], port: 8080, readinessPath: '/ready' },
      });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const svc = created.body as { id: string; invokeKey: string };

    // One process runs it; requests go to the other one.
    await until('a runner', async () => (await runnerOf(svc.id)) !== null);
    const runnerId = (await runnerOf(svc.id))!;
    const [runner, other] = first.app.get(ServicesRunner).id === runnerId ? [first, second] : [second, first];
    expect(other.app.get(ServicesRunner).id).not.toBe(runnerId);

    // Cold, through the process that does not run it: held there, and answered once the runner
    // (told by the other's published view) started a replica.
    const cold = await invoke(other, svc, '/work?ms=0');
    expect(cold.status).toBe(200);
    const view = (await runner.http().get(`/v1/services/${svc.id}`).set(auth(tenant.apiKey))).body;
    expect(view.decisions.at(-1)).toMatchObject({ from: 0, to: 1, reason: 'scale_from_zero' });
    expect(view.decisions.at(-1).inputs.pending).toBeGreaterThanOrEqual(1);

    // Load on the other process alone: three callers with one 400 ms request each in flight.
    let running = true;
    const failures: number[] = [];
    const caller = async () => {
      while (running) {
        const response = await invoke(other, svc, '/work?ms=400');
        if (response.status !== 200) failures.push(response.status);
        else await response.arrayBuffer();
      }
    };
    const callers = [caller(), caller(), caller()];
    try {
      await until("scaled up from the other process's load", async () => (await desired(svc.id)) >= 2, 30_000, 200);
    } finally {
      running = false;
      await Promise.all(callers);
    }
    expect(failures).toEqual([]);

    // The runner stops: the other process takes the service over and still serves it.
    // No place order in flight at the runner (its close would wait for the agent's ack).
    await until(
      'no place order in flight',
      async () =>
        (
          await db().query(
            `SELECT count(*)::int AS n FROM orders WHERE type = 'place' AND state IN ('pending', 'sent')`,
          )
        )[0].n === 0,
      30_000,
      200,
    );
    upstream = other;
    // As `gpumarket serve` does after its drain time: the agent's keep-alive connections through
    // the forwarder would otherwise hold the closing server open.
    (runner.app.getHttpServer() as Server).closeAllConnections();
    await runner.app.close();
    closed.add(runner);
    await until(
      'the other process runs it',
      async () => (await runnerOf(svc.id)) === other.app.get(ServicesRunner).id,
      15_000,
      200,
    );
    const after = await invoke(other, svc, '/work?ms=0');
    expect(after.status).toBe(200);
    // Idle: the new runner takes it back to zero.
    await until('back to zero', async () => (await desired(svc.id)) === 0, 30_000, 200);
    // The counts of both processes are stored together.
    await until('the counts stored', async () => {
      const [row] = await other.dataSource.query(`SELECT requests_total::int AS n FROM services WHERE id = $1`, [
        svc.id,
      ]);
      return row.n >= 2;
    });
  }, 120_000);
});
