import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createProvider, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let provider: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp();
  provider = await createProvider(t, 'north');
  other = await createProvider(t, 'south', 'slurm');
});
afterAll(async () => {
  await t?.close();
});

describe('PUT /v1/nodes (bulk upsert by externalId)', () => {
  it('registers new nodes with ids, catalogue memory, the node as its own NVLink domain, and state active', async () => {
    const nodes = await putNodes(t, provider.apiKey, [
      node('n-1', { compliance: ['soc2', 'eu-residency'], reservePrice: 1.8 }),
      node('n-2', { gpuModel: 'H200-SXM-141GB', nvlinkDomain: 'rack-7', reservePrice: '2.1234' }),
    ]);
    expect(nodes).toHaveLength(2);
    expect(nodes[0]).toMatchObject({
      externalId: 'n-1',
      providerId: provider.id,
      gpuModel: 'H100-SXM-80GB',
      gpuMemoryGb: 80,
      gpus: 8,
      compliance: ['soc2', 'eu-residency'],
      reservePrice: '1.80',
      state: 'active',
    });
    expect(nodes[0].nvlinkDomain).toBe(nodes[0].id);
    expect(nodes[1]).toMatchObject({
      externalId: 'n-2',
      gpuMemoryGb: 141,
      nvlinkDomain: 'rack-7',
      reservePrice: '2.1234',
    });
  });

  it('updates an existing node in place: same id, new fields, state kept', async () => {
    const [first] = await putNodes(t, provider.apiKey, [node('n-upd', { gpus: 4 })]);
    await t.http().patch(`/v1/nodes/${first.id}`).set(auth(provider.apiKey)).send({ state: 'draining' }).expect(200);
    const [again] = await putNodes(t, provider.apiKey, [
      node('n-upd', { gpus: 8, region: 'us-east', reservePrice: '3' }),
    ]);
    expect(again.id).toBe(first.id);
    expect(again).toMatchObject({
      gpus: 8,
      region: 'us-east',
      reservePrice: '3.00',
      state: 'draining',
      nvlinkDomain: first.id,
    });
    const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM nodes WHERE external_id = 'n-upd'`);
    expect(rows[0].n).toBe(1);
  });

  it('keeps externalIds per provider: two providers may use the same name', async () => {
    const [mine] = await putNodes(t, provider.apiKey, [node('shared-name')]);
    const [theirs] = await putNodes(t, other.apiKey, [node('shared-name')]);
    expect(mine.id).not.toBe(theirs.id);
  });

  it('rejects unknown GPU models and duplicate externalIds, writing none of the nodes', async () => {
    const response = await t
      .http()
      .put('/v1/nodes')
      .set(auth(provider.apiKey))
      .send({ nodes: [node('ok-1'), node('bad-1', { gpuModel: 'Z80' }), node('ok-1')] });
    expect(response.status).toBe(400);
    expect(response.body.details).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'nodes[1].gpuModel', rule: 'unknown_gpu_model' }),
        expect.objectContaining({ field: 'nodes[2].externalId', rule: 'unique' }),
      ]),
    );
    const rows = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM nodes WHERE external_id IN ('ok-1', 'bad-1')`,
    );
    expect(rows[0].n).toBe(0);
  });

  it.each([
    ['no nodes', { nodes: [] }, 'nodes', 'array_min_size'],
    ['gpus zero', { nodes: [node('x', { gpus: 0 })] }, 'nodes[0].gpus', 'min'],
    ['gpus absurd', { nodes: [node('x', { gpus: 100_000 })] }, 'nodes[0].gpus', 'max'],
    [
      'a negative reserve price',
      { nodes: [node('x', { reservePrice: '-0.5' })] },
      'nodes[0].reservePrice',
      'price_min',
    ],
    [
      'a reserve price with 5 decimals',
      { nodes: [node('x', { reservePrice: '0.00001' })] },
      'nodes[0].reservePrice',
      'max_decimals',
    ],
    ['an externalId with spaces', { nodes: [node('has space')] }, 'nodes[0].externalId', 'matches'],
    ['a missing region', { nodes: [node('x', { region: undefined })] }, 'nodes[0].region', 'is_string'],
    ['an unknown field', { nodes: [node('x', { owner: 'me' })] }, 'nodes[0].owner', 'unknown_field'],
    ['a state in the upsert', { nodes: [node('x', { state: 'down' })] }, 'nodes[0].state', 'unknown_field'],
    ['a node that is an array', { nodes: [[]] }, 'nodes', 'is_object'],
  ])('rejects %s', async (_what, body, field, rule) => {
    const response = await t.http().put('/v1/nodes').set(auth(provider.apiKey)).send(body);
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule }));
  });
});

describe('GET /v1/nodes', () => {
  it('shows a provider only its own nodes, and admin all of them', async () => {
    await putNodes(t, other.apiKey, [node('south-only')]);
    const mine = await t.http().get('/v1/nodes').set(auth(provider.apiKey)).expect(200);
    expect(mine.body.nodes.length).toBeGreaterThan(0);
    expect(mine.body.nodes.every((n: { providerId: string }) => n.providerId === provider.id)).toBe(true);
    const all = await t.http().get('/v1/nodes').set(auth(t.adminKey)).expect(200);
    const providers = new Set(all.body.nodes.map((n: { providerId: string }) => n.providerId));
    expect(providers).toEqual(new Set([provider.id, other.id]));
  });
});

describe('PATCH /v1/nodes/:id', () => {
  it('changes state and reserve price', async () => {
    const [n] = await putNodes(t, provider.apiKey, [node('patch-me')]);
    const response = await t
      .http()
      .patch(`/v1/nodes/${n.id}`)
      .set(auth(provider.apiKey))
      .send({ state: 'down', reservePrice: '0.75' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: n.id, state: 'down', reservePrice: '0.75' });
  });

  it("lets admin change any provider's node", async () => {
    const [theirs] = await putNodes(t, other.apiKey, [node('admin-drains')]);
    const response = await t.http().patch(`/v1/nodes/${theirs.id}`).set(auth(t.adminKey)).send({ state: 'draining' });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: theirs.id, providerId: other.id, state: 'draining' });
  });

  it("answers another provider's node with 404, and leaves it unchanged", async () => {
    const [theirs] = await putNodes(t, other.apiKey, [node('not-yours')]);
    const response = await t.http().patch(`/v1/nodes/${theirs.id}`).set(auth(provider.apiKey)).send({ state: 'down' });
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('node_not_found');
    const rows = await t.dataSource.query('SELECT state FROM nodes WHERE id = $1', [theirs.id]);
    expect(rows[0].state).toBe('active');
  });

  it('answers an unknown or malformed id with 404', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await t.http().patch(`/v1/nodes/${id}`).set(auth(provider.apiKey)).send({ state: 'down' })).status).toBe(
        404,
      );
    }
  });

  it('rejects an empty change, an unknown state, and a bad price', async () => {
    const [n] = await putNodes(t, provider.apiKey, [node('patch-bad')]);
    const empty = await t.http().patch(`/v1/nodes/${n.id}`).set(auth(provider.apiKey)).send({});
    expect(empty.body.details).toContainEqual(expect.objectContaining({ rule: 'at_least_one' }));
    const state = await t.http().patch(`/v1/nodes/${n.id}`).set(auth(provider.apiKey)).send({ state: 'broken' });
    expect(state.body.details).toContainEqual(expect.objectContaining({ field: 'state', rule: 'is_in' }));
    const price = await t.http().patch(`/v1/nodes/${n.id}`).set(auth(provider.apiKey)).send({ reservePrice: 'cheap' });
    expect(price.body.details).toContainEqual(expect.objectContaining({ field: 'reservePrice', rule: 'is_decimal' }));
    const nothing = await t.http().patch(`/v1/nodes/${n.id}`).set(auth(provider.apiKey)).send({ state: null });
    expect(nothing.body.details).toContainEqual(expect.objectContaining({ field: 'state', rule: 'is_in' }));
  });
});

describe('GPU model catalogue', () => {
  it('is seeded with current NVIDIA data-centre models and readable by any key', async () => {
    const response = await t.http().get('/v1/gpu-models').set(auth(provider.apiKey)).expect(200);
    const names = response.body.map((m: { name: string }) => m.name);
    expect(names).toEqual(expect.arrayContaining(['H200-SXM-141GB', 'H100-SXM-80GB', 'A100-SXM-80GB', 'L40S-48GB']));
    expect(response.body.find((m: { name: string }) => m.name === 'H200-SXM-141GB')).toMatchObject({
      memoryGb: 141,
      memoryBandwidthTBs: 4.8,
    });
  });

  it('lets admin add a model that nodes can then use, and refuses a duplicate with 409', async () => {
    // A model no migration seeds (the catalogue has GB200 since 1765500000000-gpu-catalogue.sql).
    const model = { name: 'GB300-NVL-288GB', memoryGb: 288, bf16Tflops: 2500, memoryBandwidthTBs: 8 };
    expect((await t.http().post('/v1/gpu-models').set(auth(t.adminKey)).send(model)).status).toBe(201);
    expect((await t.http().post('/v1/gpu-models').set(auth(t.adminKey)).send(model)).status).toBe(409);
    const [n] = await putNodes(t, provider.apiKey, [node('gb300-1', { gpuModel: 'GB300-NVL-288GB', gpus: 4 })]);
    expect(n.gpuMemoryGb).toBe(288);
  });

  it('refuses models from non-admins and malformed models', async () => {
    const model = { name: 'X1', memoryGb: 10, bf16Tflops: 1, memoryBandwidthTBs: 1 };
    expect((await t.http().post('/v1/gpu-models').set(auth(provider.apiKey)).send(model)).status).toBe(403);
    const bad = await t
      .http()
      .post('/v1/gpu-models')
      .set(auth(t.adminKey))
      .send({ ...model, memoryGb: -1, name: 'has space' });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { field: string }) => d.field)).toEqual(
      expect.arrayContaining(['memoryGb', 'name']),
    );
  });
});

describe('inventory and bid contiguity', () => {
  it('accepts a node gang as soon as a node large enough is registered', async () => {
    const tenant = await t.http().post('/v1/tenants').set(auth(t.adminKey)).send({ name: 'gang' }).expect(201);
    const bid = {
      gpus: 12,
      offers: [{ gpuModel: 'L40S-48GB', maxPrice: '1' }],
      contiguity: 'node',
      preemptible: true,
      runtimeSeconds: 600,
      workload: { image: 'x' },
    };
    // No L40S node yet: the bound is an 8-GPU board.
    const refused = await t.http().post('/v1/bids').set(auth(tenant.body.apiKey)).send(bid);
    expect(refused.body.details).toContainEqual(
      expect.objectContaining({ field: 'gpus', rule: 'contiguity_impossible' }),
    );
    await putNodes(t, provider.apiKey, [node('l40s-16', { gpuModel: 'L40S-48GB', gpus: 16 })]);
    expect((await t.http().post('/v1/bids').set(auth(tenant.body.apiKey)).send(bid)).status).toBe(201);
  });
});
