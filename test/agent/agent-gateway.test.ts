import { mkdtempSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import type { AgentOrder } from '../../src/modules/dispatch/adapters/nvidia-agent/agent-protocol.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { ConfigError, loadConfig } from '../../src/platform/config/config.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

// The agent endpoints over HTTP, spoken by the test itself as an agent would, and the adapters
// the registry builds from configuration.
describe('agent endpoints', () => {
  let t: TestApp;
  let agents: { id: string; apiKey: string };
  let others: { id: string; apiKey: string };
  let tenant: { id: string; apiKey: string };
  let rounds: RoundService;
  let period = 0;
  const round = () => rounds.runRound({ periodStart: new Date(Date.UTC(2032, 0, 1) + 60_000 * period++) });
  const pull = (key: string, query: string) => t.http().get(`/v1/agent/orders?${query}`).set(auth(key));
  const leaseOf = async (bidId: string) =>
    (await t.dataSource.query(`SELECT * FROM leases WHERE bid_id = $1`, [bidId]))[0];

  beforeAll(async () => {
    t = await createTestApp();
    rounds = t.app.get(RoundService);
    agents = await createProvider(t, 'agents', 'nvidia-agent');
    others = await createProvider(t, 'others', 'nvidia-agent');
    tenant = await createTenant(t, 'tenant');
    await putNodes(t, agents.apiKey, [node('agent-a', { block: 'leaf-1' }), node('agent-b', { block: 'leaf-1' })]);
    await putNodes(t, others.apiKey, [node('other-a', { region: 'us-east' })]);
  });
  afterAll(async () => t?.close());

  it('answers 404 for a node of another provider, or one nobody registered', async () => {
    for (const path of [
      '/v1/agent/orders?node=other-a&waitSeconds=0',
      '/v1/agent/leases?node=other-a',
      '/v1/agent/leases?node=nobody',
    ]) {
      const response = await t.http().get(path).set(auth(agents.apiKey));
      expect(response.status, path).toBe(404);
      expect(response.body.error).toBe('node_not_found');
    }
  });

  it('refuses a waitSeconds outside 0-30 and a missing node with 400 naming the field', async () => {
    for (const [query, field] of [
      ['node=agent-a&waitSeconds=31', 'waitSeconds'],
      ['node=agent-a&waitSeconds=-1', 'waitSeconds'],
      ['node=agent-a&waitSeconds=1.5', 'waitSeconds'],
      ['waitSeconds=1', 'node'],
    ]) {
      const response = await pull(agents.apiKey, query!);
      expect(response.status, query).toBe(400);
      expect(response.body.details.map((d: { field: string }) => d.field)).toContain(field);
    }
  });

  it('is for provider keys only', async () => {
    expect((await pull(tenant.apiKey, 'node=agent-a')).status).toBe(403);
    expect((await t.http().get('/v1/agent/orders?node=agent-a')).status).toBe(401);
  });

  it('holds a long poll for waitSeconds when nothing is queued and answers []', async () => {
    const started = Date.now();
    const response = await pull(agents.apiKey, 'node=agent-a&waitSeconds=1');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ orders: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("validates acknowledgements and answers 404 for an order that is not the provider's", async () => {
    const registry = t.app.get(AdapterRegistry);
    const theirs = await registry
      .agentQueue(others.id)
      .enqueue('other-a', { type: 'terminate', leaseId: 'lease-x', graceSeconds: 0 });
    const ack = (key: string, id: string, body: unknown) =>
      t
        .http()
        .post(`/v1/agent/orders/${id}/ack`)
        .set(auth(key))
        .send(body as object);
    expect((await ack(agents.apiKey, theirs.id, { ok: true })).status).toBe(404);
    expect((await ack(agents.apiKey, 'not-a-uuid', { ok: true })).body.error).toBe('agent_order_not_found');
    const bad: Array<[unknown, string]> = [
      [{ ok: 'yes' }, 'ok'],
      [{ ok: false }, 'error'],
      [{ ok: false, error: { kind: 'maybe', message: 'x' } }, 'error.kind'],
      [{ ok: true, gpuIndices: [0, -1] }, 'gpuIndices'],
      [{ ok: true, extra: 1 }, 'extra'],
    ];
    for (const [body, field] of bad) {
      const response = await ack(others.apiKey, theirs.id, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(
        response.body.details.map((d: { field: string }) => d.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    expect(
      (await ack(others.apiKey, theirs.id, { ok: false, error: { kind: 'permanent', message: 'no such lease' } }))
        .status,
    ).toBe(204);
    expect(await registry.agentQueue(others.id).awaitAck(theirs.id, 0)).toEqual({
      ok: false,
      error: { kind: 'permanent', message: 'no such lease' },
    });
  });

  it('answers any acknowledgement body and any query string with 2xx or 4xx, never 5xx', async () => {
    const order = await t.app
      .get(AdapterRegistry)
      .agentQueue(agents.id)
      .enqueue('fuzz-node', { type: 'terminate', leaseId: 'lease-fuzz', graceSeconds: 0 });
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (body) => {
        const response = await t
          .http()
          .post(`/v1/agent/orders/${order.id}/ack`)
          .set(auth(agents.apiKey))
          .set('Content-Type', 'application/json')
          .send(JSON.stringify(body));
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('node', 'waitSeconds', 'x'),
          fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 })),
        ),
        async (query) => {
          const response = await t.http().get('/v1/agent/orders').query(query).set(auth(agents.apiKey));
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("moves a lease over two agent nodes only by both nodes' reports: running when both run, completed when both complete", async () => {
    const bidId = (
      await t
        .http()
        .post('/v1/bids')
        .set(auth(tenant.apiKey))
        .send(bidBody({ gpus: 16, contiguity: 'block', runtimeSeconds: 60, workload: { command: ['/bin/true'] } }))
    ).body.id;
    expect((await round())?.placements).toBe(1);
    const lease = await leaseOf(bidId);
    // Acting as the two agents: take the place orders and accept them.
    const received: Record<string, AgentOrder[]> = {};
    for (const name of ['agent-a', 'agent-b']) {
      const response = await pull(agents.apiKey, `node=${name}&waitSeconds=10`);
      expect(response.status).toBe(200);
      received[name] = response.body.orders;
      expect(received[name]!.map((o) => [o.type, o.leaseId, o.place?.nodes.map((n) => n.externalId)])).toEqual([
        ['place', lease.id, [name]],
      ]);
      const ack = await t
        .http()
        .post(`/v1/agent/orders/${received[name]![0]!.id}/ack`)
        .set(auth(agents.apiKey))
        .send({ ok: true, handle: `${name}/x`, gpuIndices: [0, 1, 2, 3, 4, 5, 6, 7] });
      expect(ack.status).toBe(204);
    }
    await until(
      'the place order done',
      async () =>
        (await t.dataSource.query(`SELECT state FROM orders WHERE lease_id = $1`, [lease.id]))[0].state === 'done',
    );
    expect((await pull(agents.apiKey, 'node=agent-a&waitSeconds=0')).body.orders).toEqual([]);
    const leases = await t.http().get('/v1/agent/leases?node=agent-b').set(auth(agents.apiKey));
    expect(leases.body).toEqual({ leases: [{ leaseId: lease.id, state: 'running' }] });

    const report = (body: object) => t.http().post(`/v1/leases/${lease.id}/status`).set(auth(agents.apiKey)).send(body);
    expect((await report({ state: 'running' })).status).toBe(400); // which node?
    expect((await report({ state: 'running', node: 'other-a' })).body.details[0].field).toBe('node');
    expect((await report({ state: 'running', node: 'agent-a' })).body.state).toBe('allocated');
    expect((await report({ state: 'running', node: 'agent-b' })).body.state).toBe('running');
    // A replica endpoint is kept when routable, and dropped (the rest of the report kept) when it
    // would aim the services gateway at the market host's loopback or a link-local address.
    const stored = async (node: string) =>
      (
        await t.dataSource.query(`SELECT report FROM agent_status_reports WHERE lease_id = $1 AND node = $2`, [
          lease.id,
          node,
        ])
      )[0].report;
    const serving = { spawnedAt: 1_767_225_600_000, readyAt: 1_767_225_601_000 };
    const routable = await report({ state: 'running', node: 'agent-a', endpoint: '10.0.3.17:40123', serving });
    expect(routable.status).toBe(200);
    expect(await stored('agent-a')).toMatchObject({ endpoint: '10.0.3.17:40123', serving });
    for (const endpoint of ['127.0.0.1:5432', '169.254.169.254:80', 'localhost:6379']) {
      const refused = await report({ state: 'running', node: 'agent-a', endpoint, serving });
      expect(refused.status, endpoint).toBe(200);
      expect(refused.body.state).toBe('running');
      expect((await stored('agent-a')).endpoint, endpoint).toBeUndefined();
    }
    expect((await report({ state: 'running', node: 'agent-a', endpoint: 'not an endpoint' })).status).toBe(400);
    expect((await report({ state: 'completed', exitCode: 0, node: 'agent-b' })).body.state).toBe('running');
    const done = await report({ state: 'completed', exitCode: 0, node: 'agent-a' });
    expect(done.body).toMatchObject({ state: 'completed', endReason: 'workload_ended', exitCode: 0 });
    expect((await t.http().get('/v1/agent/leases?node=agent-a').set(auth(agents.apiKey))).body).toEqual({ leases: [] });
  });

  it("fails a lease at once when its provider's adapter is not configured, naming the variable to set", async () => {
    const slurm = await createProvider(t, 'slurm-cluster', 'slurm');
    await putNodes(t, slurm.apiKey, [node('slurm-1', { region: 'ap-south' })]);
    const bidId = (
      await t
        .http()
        .post('/v1/bids')
        .set(auth(tenant.apiKey))
        .send(bidBody({ gpus: 8, regions: ['ap-south'] }))
    ).body.id;
    await round();
    await until('the lease to fail', async () => (await leaseOf(bidId))?.state === 'failed', 8_000);
    expect((await leaseOf(bidId)).end_reason).toMatch(/SLURM_BIN_DIR/);
    await expect(t.app.get(AdapterRegistry).forProvider(slurm.id, 'kubernetes')).rejects.toThrow(/KUBE_NAMESPACE/);
  });
});

describe('adapters built from configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumarket-adapter-config-'));
  writeFileSync(join(dir, 'sbatch'), '#!/bin/sh\n', { mode: 0o755 });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );

  it('refuses a SLURM_BIN_DIR without sbatch and a KUBECONFIG that is not a file, naming the variable', () => {
    expect(() => loadConfig({ SLURM_BIN_DIR: join(dir, 'missing') })).toThrow(/SLURM_BIN_DIR/);
    expect(() => loadConfig({ SLURM_BIN_DIR: dir, SLURM_PARTITION: 'gpu partition' })).toThrow(/SLURM_PARTITION/);
    expect(() => loadConfig({ KUBE_NAMESPACE: 'leases', KUBECONFIG: dir })).toThrow(ConfigError);
    // Variables of tools the market does not use are not its business.
    expect(loadConfig({ KUBECONFIG: '/nowhere' }).kubernetes).toBeNull();
  });

  it('builds the slurm and kubernetes adapters of configured clusters', async () => {
    const config = loadConfig({
      SLURM_BIN_DIR: dir,
      SLURM_PARTITION: 'gpu',
      KUBE_NAMESPACE: 'leases',
      KUBECONFIG: kubeconfig,
    });
    expect(config.slurm).toEqual({ binDir: dir, partition: 'gpu' });
    expect(config.kubernetes).toEqual({ namespace: 'leases', kubeconfig });
    const registry = new AdapterRegistry(undefined as never, config);
    expect((await registry.forProvider('p-slurm', 'slurm')).kind).toBe('slurm');
    expect((await registry.forProvider('p-kube', 'kubernetes')).kind).toBe('kubernetes');
  });
});
