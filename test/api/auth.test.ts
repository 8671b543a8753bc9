import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/modules/auth/api-key.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let tenant: { id: string; apiKey: string };
let provider: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp({ API_KEY_CACHE_SECONDS: '0' });
  tenant = await createTenant(t, 'acme');
  provider = await createProvider(t, 'north');
});
afterAll(async () => {
  await t?.close();
});

describe('API keys', () => {
  it('answers a request without a key with 401', async () => {
    const response = await t.http().get('/v1/gpu-models');
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('api_key_missing');
  });

  it.each([
    ['an unknown key', 'Bearer gm_nope'],
    ['a malformed header', 'Token abc'],
    ['an empty bearer', 'Bearer '],
  ])('answers %s with 401', async (_what, header) => {
    const response = await t.http().get('/v1/gpu-models').set('Authorization', header);
    expect(response.status).toBe(401);
    expect(response.body.error).toBe('api_key_invalid');
  });

  it('stores keys only as hashes', async () => {
    const rows: Array<{ key_hash: string }> = await t.dataSource.query(
      'SELECT key_hash FROM api_keys WHERE tenant_id = $1',
      [tenant.id],
    );
    expect(rows).toEqual([{ key_hash: hashApiKey(tenant.apiKey) }]);
    const plain = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM api_keys WHERE key_hash = $1 OR key_prefix = $1`,
      [tenant.apiKey],
    );
    expect(plain[0].n).toBe(0);
  });

  it('stops accepting a revoked key', async () => {
    const extra = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'tenant', name: 'ci', tenantId: tenant.id })
      .expect(201);
    await t.http().get('/v1/bids').set(auth(extra.body.apiKey)).expect(200);
    await t.dataSource.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [extra.body.id]);
    expect((await t.http().get('/v1/bids').set(auth(extra.body.apiKey))).status).toBe(401);
  });
});

describe('roles', () => {
  it.each([
    ['a tenant creating a tenant', () => tenant.apiKey, 'post', '/v1/tenants', { name: 'x' }],
    ['a provider creating a provider', () => provider.apiKey, 'post', '/v1/providers', { name: 'x', adapter: 'slurm' }],
    ['a tenant registering nodes', () => tenant.apiKey, 'put', '/v1/nodes', { nodes: [node('x')] }],
    ['a provider submitting a bid', () => provider.apiKey, 'post', '/v1/bids', bidBody()],
    ['admin submitting a bid', () => t.adminKey, 'post', '/v1/bids', bidBody()],
    ['a tenant listing nodes', () => tenant.apiKey, 'get', '/v1/nodes', undefined],
    ['a tenant issuing keys', () => tenant.apiKey, 'post', '/v1/api-keys', { role: 'admin', name: 'x' }],
  ] as const)('answers %s with 403', async (_what, key, method, path, body) => {
    const response = await t.http()[method](path).set(auth(key())).send(body);
    expect(response.status).toBe(403);
    expect(response.body.error).toBe('role_not_allowed');
  });

  it('checks the role before the body, so a wrong role never learns about validation', async () => {
    const response = await t.http().post('/v1/tenants').set(auth(tenant.apiKey)).send({ nonsense: true });
    expect(response.status).toBe(403);
  });

  it('lets admin create finance keys that read all nodes but cannot change anything', async () => {
    const created = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'finance team' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      role: 'finance',
      name: 'finance team',
      apiKey: expect.stringMatching(/^gm_/),
    });
    const finance = created.body.apiKey;
    await putNodes(t, provider.apiKey, [node('fin-visible')]);
    const nodes = await t.http().get('/v1/nodes').set(auth(finance)).expect(200);
    expect(nodes.body.nodes.map((n: { externalId: string }) => n.externalId)).toContain('fin-visible');
    expect((await t.http().post('/v1/tenants').set(auth(finance)).send({ name: 'x' })).status).toBe(403);
    expect(
      (
        await t
          .http()
          .put('/v1/nodes')
          .set(auth(finance))
          .send({ nodes: [node('y')] })
      ).status,
    ).toBe(403);
  });

  it('validates key requests: a tenant key needs an existing tenant', async () => {
    const missing = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'tenant', name: 'x' });
    expect(missing.body.details).toContainEqual(expect.objectContaining({ field: 'tenantId', rule: 'required' }));
    const unknown = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'tenant', name: 'x', tenantId: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.body.details).toContainEqual(expect.objectContaining({ field: 'tenantId', rule: 'exists' }));
    const stray = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'x', tenantId: tenant.id });
    expect(stray.body.details).toContainEqual(expect.objectContaining({ field: 'tenantId', rule: 'not_allowed' }));
  });
});

describe('tenants and providers', () => {
  it('creates a tenant with a key that works at once, and validates the name', async () => {
    const created = await t.http().post('/v1/tenants').set(auth(t.adminKey)).send({ name: 'beta-labs' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.any(String), name: 'beta-labs', apiKey: expect.stringMatching(/^gm_/) });
    await t.http().get('/v1/bids').set(auth(created.body.apiKey)).expect(200);
    const bad = await t.http().post('/v1/tenants').set(auth(t.adminKey)).send({ name: '' });
    expect(bad.body.details).toContainEqual(expect.objectContaining({ field: 'name', rule: 'is_length' }));
  });

  it('creates a provider for a known adapter only', async () => {
    const created = await t
      .http()
      .post('/v1/providers')
      .set(auth(t.adminKey))
      .send({ name: 'k8s-west', adapter: 'kubernetes' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'k8s-west',
      adapter: 'kubernetes',
      apiKey: expect.stringMatching(/^gm_/),
    });
    const bad = await t.http().post('/v1/providers').set(auth(t.adminKey)).send({ name: 'x', adapter: 'ssh' });
    expect(bad.body.details).toContainEqual(expect.objectContaining({ field: 'adapter', rule: 'is_in' }));
  });
});

describe('errors', () => {
  it('carries a request id in the body and header, echoing a safe X-Request-Id', async () => {
    const response = await t.http().get('/v1/bids').set('X-Request-Id', 'trace-123');
    expect(response.status).toBe(401);
    expect(response.headers['x-request-id']).toBe('trace-123');
    expect(response.body.requestId).toBe('trace-123');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const response = await t.http().get('/v1/nope').set(auth(t.adminKey));
    expect(response.status).toBe(404);
    expect(response.body.error).toBe('route_not_found');
  });
});
