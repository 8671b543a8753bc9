import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

const REPLICA = resolve(import.meta.dirname, 'replica-server.mjs');

/** A service body: one 1-GPU replica running the test's replica server; override any field. */
function serviceBody(
  name: string,
  overrides: Record<string, unknown> = {},
  env: Record<string, string> = {},
): Record<string, unknown> {
  return {
    name,
    replica: {
      gpus: 1,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
      contiguity: 'node',
      preemptible: false,
      regions: ['eu-west', 'us-east'],
    },
    minReplicas: 0,
    maxReplicas: 3,
    targetConcurrency: 1,
    scaleDownDelaySeconds: 1,
    scaleToZeroAfterSeconds: 3,
    stableWindowSeconds: 3,
    panicWindowSeconds: 1,
    pendingTimeoutSeconds: 30,
    workload: { command: [process.execPath, REPLICA], port: 8080, readinessPath: '/ready', env },
    ...overrides,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('elastic services on real processes and real PostgreSQL', () => {
  let t: TestApp;
  let base: string;
  let tenant: { id: string; apiKey: string };
  const service = async (id: string) => (await t.http().get(`/v1/services/${id}`).set(auth(tenant.apiKey))).body;
  const invoke = (svc: { id: string }, key: string, path: string, init: RequestInit = {}) =>
    fetch(`${base}/v1/services/${svc.id}/invoke${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
    });

  beforeAll(async () => {
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', PREEMPTION_NOTICE_SECONDS: '5' });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${((t.app.getHttpServer() as Server).address() as AddressInfo).port}`;
    const provider = await createProvider(t, 'sim');
    // The preemption test has two nodes of its own (ap-south, sa-east): no other test's replica runs there.
    await putNodes(t, provider.apiKey, [
      node('n-eu', { region: 'eu-west' }),
      node('n-us', { region: 'us-east' }),
      node('n-ap', { region: 'ap-south' }),
      node('n-sa', { region: 'sa-east' }),
    ]);
    tenant = await createTenant(t, 'svc-tenant');
  });
  afterAll(async () => t?.close());

  it('refuses a bad service naming the field and rule, as for bids', async () => {
    const bad = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(
        serviceBody('bad', {
          minReplicas: 3,
          maxReplicas: 2,
          replica: {
            gpus: 1,
            offers: [{ gpuModel: 'NOPE', maxPrice: '1.00001' }],
            contiguity: 'node',
            preemptible: false,
          },
        }),
      );
    expect(bad.status).toBe(400);
    const fields = bad.body.details.map((d: { field: string; rule: string }) => `${d.field}:${d.rule}`);
    expect(
      fields.some(
        (f: string) => f.startsWith('replica.offers.0.maxPrice') || f.startsWith('replica.offers[0].maxPrice'),
      ),
    ).toBe(true);
    const order = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(serviceBody('bad', { minReplicas: 3, maxReplicas: 2 }));
    expect(order.status).toBe(400);
    expect(order.body.details).toContainEqual(
      expect.objectContaining({ field: 'maxReplicas', rule: 'at_least_min_replicas' }),
    );
    const model = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(
        serviceBody('bad', {
          replica: { gpus: 1, offers: [{ gpuModel: 'NOPE', maxPrice: '1' }], contiguity: 'node', preemptible: false },
        }),
      );
    expect(model.status).toBe(400);
    expect(model.body.details[0].field).toMatch(/^replica\.offers/);
  });

  it('answers the first request of a service at zero once a replica is ready, held by the gateway; scales to N under load; returns to zero when idle', async () => {
    const created = await t.http().post('/v1/services').set(auth(tenant.apiKey)).send(serviceBody('chat'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const svc = created.body;
    expect(svc.url).toBe(`${base}/v1/services/${svc.id}/invoke`);
    expect(svc.invokeKey).toMatch(/^gms_/);
    expect(svc.desiredReplicas).toBe(0);

    // Cold: nothing runs; the request is held until a replica answers its readiness path.
    const unauthorised = await invoke(svc, 'wrong', '/work');
    expect(unauthorised.status).toBe(401);
    const first = await invoke(svc, svc.invokeKey, '/work?ms=0');
    expect(first.status).toBe(200);
    const body = (await first.json()) as { path: string; authorization: string | null; requestId: string };
    expect(body.path).toBe('/work');
    expect(body.authorization).toBeNull(); // the caller's key stays at the gateway
    // One request id, the same at the replica and in the answer.
    expect(first.headers.get('x-request-id')).toBe(body.requestId);
    // The tenant's own API key works too; a body streams both ways.
    const echo = await invoke(svc, tenant.apiKey, '/echo', {
      method: 'POST',
      body: 'x'.repeat(100_000),
      headers: { 'content-type': 'text/plain' },
    });
    expect(echo.status).toBe(200);
    expect((await echo.text()).length).toBe(100_000);
    let view = await service(svc.id);
    expect(view.coldStarts).toHaveLength(1);
    expect(view.coldStarts[0]).toMatchObject({ fromZero: true });
    expect(view.coldStarts[0].marketWaitMs).toBeGreaterThanOrEqual(0);
    expect(view.decisions.at(-1)).toMatchObject({ from: 0, to: 1, reason: 'scale_from_zero' });
    expect(view.replicas).toEqual([
      expect.objectContaining({
        state: 'ready',
        rank: 1,
        endpoint: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        leaseState: expect.any(String),
      }),
    ]);

    // Load: three callers, each keeping one 300 ms request in flight: three replicas.
    let running = true;
    const failures: number[] = [];
    const pids = new Set<number>();
    const caller = async () => {
      while (running) {
        const response = await invoke(svc, svc.invokeKey, '/work?ms=300');
        if (response.status !== 200) failures.push(response.status);
        else pids.add(((await response.json()) as { pid: number }).pid);
      }
    };
    const callers = [caller(), caller(), caller()];
    const stop = async () => {
      running = false;
      await Promise.all(callers);
    };
    try {
      await until(
        'three ready replicas',
        async () => (await service(svc.id)).replicas.filter((r: { state: string }) => r.state === 'ready').length === 3,
        30_000,
        200,
      );
      view = await service(svc.id);
      expect(view.desiredReplicas).toBe(3);
      // Replica k bids less than replica k-1: the market keeps the ones worth their price.
      expect(view.replicas.map((r: { rank: number; maxPrice: string }) => [r.rank, r.maxPrice])).toEqual([
        [1, '3.00'],
        [2, '2.70'],
        [3, '2.43'],
      ]);
      await until('all three replicas to serve', () => pids.size >= 3, 10_000);
      // Less load: one caller. The service steps down to one replica, and no request is lost on the way.
      running = false;
      await Promise.all(callers);
      running = true;
      callers.splice(0, callers.length, caller());
      await until(
        'one replica left',
        async () => {
          const v = await service(svc.id);
          return v.desiredReplicas === 1 && v.replicas.length === 1;
        },
        30_000,
        200,
      );
    } finally {
      await stop();
    }
    expect(failures).toEqual([]);
    expect((await service(svc.id)).decisions.slice(0, 2).map((d: { reason: string }) => d.reason)).toEqual([
      'scale_down',
      'scale_down',
    ]);

    // Idle: one step at a time, then to zero; every replica's process is gone.
    await until(
      'the service back at zero',
      async () => {
        const v = await service(svc.id);
        return v.desiredReplicas === 0 && v.replicas.length === 0;
      },
      40_000,
      200,
    );
    view = await service(svc.id);
    expect(view.decisions[0].reason).toBe('scale_to_zero');
    // No scale-up came back soon after a scale-down; money settled so far is an exact decimal.
    expect(view.usage.flaps).toBe(0);
    expect(view.usage.charged).toMatch(/^\d+\.\d{6}$/);
    expect(view.traffic).toMatchObject({ rejected: 0, timedOut: 0 });
    expect(view.decisions[0].inputs).toMatchObject({ want: 0, floor: 0 });
    await until('the replica processes to exit', () => [...pids].every((pid) => !alive(pid)), 10_000);
  }, 120_000);

  it('answers 503 with Retry-After when the pending queue is full, and 504 when no replica is ready in time', async () => {
    const created = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(
        serviceBody(
          'slow',
          { maxPendingRequests: 2, pendingTimeoutSeconds: 1, maxReplicas: 1 },
          { READY_DELAY_MS: '4000' },
        ),
      );
    expect(created.status).toBe(201);
    const svc = created.body;
    const held = [invoke(svc, svc.invokeKey, '/work'), invoke(svc, svc.invokeKey, '/work')];
    await until('two requests held', async () => (await service(svc.id)).pendingRequests === 2);
    const third = await invoke(svc, svc.invokeKey, '/work');
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('2');
    expect(((await third.json()) as { error: string }).error).toBe('service_queue_full');
    const timedOut = await Promise.all(held);
    expect(timedOut.map((r) => r.status)).toEqual([504, 504]);
    expect(((await timedOut[0]!.json()) as { error: string }).error).toBe('service_start_timeout');
    // The counts are stored (about every second): totals on the service, and per minute.
    await until('the counts stored', async () => {
      const [row] = await t.dataSource.query(
        `SELECT requests_total::int AS requests, rejected_total::int AS rejected, timed_out_total::int AS "timedOut" FROM services WHERE id = $1`,
        [svc.id],
      );
      return row.requests === 3 && row.rejected === 1 && row.timedOut === 2;
    });
    const counted = await service(svc.id);
    expect(counted.traffic).toEqual({ requests: 3, rejected: 1, timedOut: 2 });
    const minutes = counted.trafficByMinute as Array<{ requests: number; rejected: number; timedOut: number }>;
    expect(minutes.reduce((sum, m) => sum + m.requests, 0)).toBe(3);
    expect(minutes.reduce((sum, m) => sum + m.rejected, 0)).toBe(1);
    expect(minutes.reduce((sum, m) => sum + m.timedOut, 0)).toBe(2);
    // Deleting it answers what it holds at once, and what comes after.
    const patched = await t
      .http()
      .patch(`/v1/services/${svc.id}`)
      .set(auth(tenant.apiKey))
      .send({ pendingTimeoutSeconds: 60 });
    expect(patched.body.pendingTimeoutSeconds).toBe(60);
    const waiting = invoke(svc, svc.invokeKey, '/work');
    await until('a request held', async () => (await service(svc.id)).pendingRequests === 1);
    await t.http().delete(`/v1/services/${svc.id}`).set(auth(tenant.apiKey)).expect(200);
    expect((await waiting).status).toBe(404);
    const gone = await invoke(svc, svc.invokeKey, '/work');
    expect(gone.status).toBe(404);
    await until(
      'the service deleted, its replica ended',
      async () => (await t.http().get(`/v1/services/${svc.id}`).set(auth(tenant.apiKey))).status === 404,
      20_000,
      200,
    );
  }, 60_000);

  it('ends a replica whose workload fails, answers the held request 504, and backs off before the next', async () => {
    const created = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(
        serviceBody('broken', {
          minReplicas: 1,
          maxReplicas: 1,
          pendingTimeoutSeconds: 2,
          workload: { command: [process.execPath, '-e', 'process.exit(3)'], port: 8080 },
        }),
      );
    expect(created.status).toBe(201);
    const svc = created.body;
    const answer = await invoke(svc, svc.invokeKey, '/');
    expect(answer.status).toBe(504);
    const ended = async () =>
      (await t.dataSource.query(
        `SELECT end_reason, requested_at, ended_at FROM service_replicas WHERE service_id = $1 ORDER BY requested_at`,
        [svc.id],
      )) as Array<{
        end_reason: string | null;
        requested_at: Date;
        ended_at: Date | null;
      }>;
    await until(
      'two failed replicas',
      async () => (await ended()).filter((r) => r.end_reason === 'bid_failed').length >= 2,
      40_000,
      200,
    );
    const [first, second] = await ended();
    // The second was asked for only after the first had failed, and 2 s later.
    expect(second!.requested_at.getTime() - first!.ended_at!.getTime()).toBeGreaterThanOrEqual(2000);
    await t.http().delete(`/v1/services/${svc.id}`).set(auth(tenant.apiKey)).expect(200);
  }, 60_000);

  it('replaces a preempted replica by a new bid at its notice, without a failed request', async () => {
    const created = await t
      .http()
      .post('/v1/services')
      .set(auth(tenant.apiKey))
      .send(
        serviceBody('spot', {
          minReplicas: 1,
          maxReplicas: 1,
          replica: {
            gpus: 1,
            offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
            contiguity: 'node',
            preemptible: true,
            regions: ['ap-south', 'sa-east'],
          },
        }),
      );
    expect(created.status).toBe(201);
    const svc = created.body;
    const warm = await invoke(svc, svc.invokeKey, '/work');
    expect(warm.status).toBe(200);
    const [{ lease_id: leaseId, region }] = await t.dataSource.query(
      `SELECT l.id AS lease_id, n.region FROM service_replicas r JOIN leases l ON l.bid_id = r.bid_id
         JOIN lease_nodes ln ON ln.lease_id = l.id JOIN nodes n ON n.id = ln.node_id
        WHERE r.service_id = $1 AND r.state = 'ready'`,
      [svc.id],
    );
    await t.app.get(LeaseSyncService).syncAll();
    await until(
      'the replica lease running',
      async () =>
        (await t.dataSource.query(`SELECT state FROM leases WHERE id = $1`, [leaseId]))[0].state === 'running',
    );
    // Protection counts from the start of its run.
    await past(
      (await t.dataSource.query(`SELECT protected_until FROM leases WHERE id = $1`, [leaseId]))[0].protected_until,
    );

    let running = true;
    const failures: string[] = [];
    let served = 0;
    const caller = async () => {
      while (running) {
        const response = await invoke(svc, svc.invokeKey, '/work?ms=50');
        if (response.status === 200) served += 1;
        else failures.push(`${response.status} ${await response.text()}`);
      }
    };
    const callers = [caller(), caller()];
    try {
      // Another tenant takes the whole node the replica runs on.
      const other = await createTenant(t, 'big-spender');
      const blocker = await t
        .http()
        .post('/v1/bids')
        .set(auth(other.apiKey))
        .send({
          gpus: 8,
          offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '9.00' }],
          contiguity: 'node',
          preemptible: false,
          runtimeSeconds: 3600,
          regions: [region],
          workload: { image: 'x' },
        });
      expect(blocker.status).toBe(201);
      const round = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2031, 0, 1)) });
      expect(round?.preemptions).toBe(1);

      await until(
        'a replacement ready on the other node',
        async () => {
          const v = await service(svc.id);
          return v.replicas.some(
            (r: { state: string; leaseId: string }) => r.state === 'ready' && r.leaseId !== leaseId,
          );
        },
        30_000,
        100,
      );
      const before = served;
      await until('requests served by the replacement', () => served >= before + 5, 10_000);
    } finally {
      running = false;
      await Promise.all(callers);
    }
    expect(failures).toEqual([]);
    const [replacement] = await t.dataSource.query(
      `SELECT r.replaces, n.region FROM service_replicas r JOIN leases l ON l.bid_id = r.bid_id JOIN lease_nodes ln ON ln.lease_id = l.id
         JOIN nodes n ON n.id = ln.node_id WHERE r.service_id = $1 AND r.state = 'ready'`,
      [svc.id],
    );
    expect(replacement.replaces).not.toBeNull();
    expect(replacement.region).not.toBe(region);
  }, 90_000);
});
