import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WEBHOOKS_PER_TENANT } from '../../src/modules/webhooks/webhooks.service.js';
import { auth, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

// Private targets are refused here, as in production; a public address literal needs no DNS.
const PUBLIC_URL = 'https://93.184.215.14/gpumarket';

let t: TestApp;
let tenant: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp({ WEBHOOK_SECRET_KEY: 'cd'.repeat(32) });
  tenant = await createTenant(t, 'hooked');
  other = await createTenant(t, 'other');
});
afterAll(async () => t?.close());

const register = (key: string, body: object) => t.http().post('/v1/webhooks').set(auth(key)).send(body);
const problems = (response: { body: { details?: Array<{ field: string; rule: string }> } }) =>
  (response.body.details ?? []).map((d) => `${d.field}:${d.rule}`);

describe('registering and reading webhooks', () => {
  it('returns the secret once, never again, and stores it only encrypted', async () => {
    const created = await register(tenant.apiKey, {
      url: PUBLIC_URL,
      events: ['lease.preemption_notice', 'lease.completed'],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({
      url: PUBLIC_URL,
      events: ['lease.preemption_notice', 'lease.completed'],
      enabled: true,
      disabledAt: null,
      disabledReason: null,
    });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    const listed = await t.http().get('/v1/webhooks').set(auth(tenant.apiKey));
    expect(listed.status).toBe(200);
    expect(listed.body.webhooks).toEqual([expect.objectContaining({ id: created.body.id })]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    const one = await t.http().get(`/v1/webhooks/${created.body.id}`).set(auth(tenant.apiKey));
    expect(one.body).not.toHaveProperty('secret');

    const [row] = await t.dataSource.query('SELECT secret_sealed FROM webhook_endpoints WHERE id = $1', [
      created.body.id,
    ]);
    expect(row.secret_sealed).toMatch(/^v1\./);
    expect(row.secret_sealed).not.toContain(created.body.secret.slice(6));
    const dump = JSON.stringify(await t.dataSource.query('SELECT * FROM webhook_endpoints'));
    expect(dump).not.toContain(created.body.secret);
  });

  it.each([
    ['a URL that does not parse', { url: 'not a url', events: ['bid.allocated'] }, 'url:is_url'],
    ['a scheme other than http(s)', { url: 'ftp://93.184.215.14/x', events: ['bid.allocated'] }, 'url:url_scheme'],
    ['a javascript: URL', { url: 'javascript:alert(1)', events: ['bid.allocated'] }, 'url:url_scheme'],
    [
      'credentials in the URL',
      { url: 'https://user:pw@93.184.215.14/', events: ['bid.allocated'] },
      'url:url_credentials',
    ],
    [
      'a URL that is too long',
      { url: `https://93.184.215.14/${'a'.repeat(2048)}`, events: ['bid.allocated'] },
      'url:max_length',
    ],
    ['no url', { events: ['bid.allocated'] }, 'url:is_string'],
    ['an empty events list', { url: PUBLIC_URL, events: [] }, 'events:array_min_size'],
    ['an unknown event type', { url: PUBLIC_URL, events: ['bid.won'] }, 'events:is_in'],
    ['a repeated event type', { url: PUBLIC_URL, events: ['bid.allocated', 'bid.allocated'] }, 'events:array_unique'],
    ['events that are not a list', { url: PUBLIC_URL, events: 'bid.allocated' }, 'events:is_array'],
    ['an unknown field', { url: PUBLIC_URL, events: ['bid.allocated'], secret: 'mine' }, 'secret:unknown_field'],
  ])('refuses %s with 400 naming the field and rule', async (_what, body, expected) => {
    const response = await register(tenant.apiKey, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(problems(response)).toContain(expected);
  });

  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost:3000/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::ffff:10.0.0.1]/',
    'http://10.0.0.5/',
    'http://172.20.1.1/',
    'http://192.168.0.1/',
    'http://100.64.1.1/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://0x7f000001/',
  ])('refuses the private target %s with 400 naming url (SSRF)', async (url) => {
    const response = await register(tenant.apiKey, { url, events: ['bid.allocated'] });
    expect(response.status).toBe(400);
    expect(problems(response)).toEqual(['url:private_target']);
  });

  it('refuses a host that does not resolve', async () => {
    const response = await register(tenant.apiKey, {
      url: 'https://no-such-host.invalid/hook',
      events: ['bid.allocated'],
    });
    expect(response.status).toBe(400);
    expect(problems(response)).toEqual(['url:unresolvable_host']);
  });

  it('refuses a change of URL to a private target too', async () => {
    const created = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    const response = await t
      .http()
      .patch(`/v1/webhooks/${created.body.id}`)
      .set(auth(tenant.apiKey))
      .send({ url: 'http://127.0.0.1/' });
    expect(response.status).toBe(400);
    expect(problems(response)).toEqual(['url:private_target']);
    await t.http().delete(`/v1/webhooks/${created.body.id}`).set(auth(tenant.apiKey)).expect(204);
  });

  it('no malformed body gets a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('url', 'events', 'enabled', 'x'), fc.jsonValue(), { maxKeys: 3 }),
        async (body) => {
          const response = await register(other.apiKey, body);
          expect(response.status, JSON.stringify({ body, answer: response.body })).toBeLessThan(500);
          if (response.status === 201)
            await t.http().delete(`/v1/webhooks/${response.body.id}`).set(auth(other.apiKey));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('changing, disabling, rotating and deleting', () => {
  it('disables and re-enables an endpoint on request', async () => {
    const created = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    const id = created.body.id;
    expect((await t.http().patch(`/v1/webhooks/${id}`).set(auth(tenant.apiKey)).send({})).body.details).toEqual([
      expect.objectContaining({ rule: 'at_least_one' }),
    ]);
    const off = await t.http().patch(`/v1/webhooks/${id}`).set(auth(tenant.apiKey)).send({ enabled: false });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ enabled: false, disabledReason: 'disabled by the tenant' });
    expect(off.body.disabledAt).not.toBeNull();
    const on = await t
      .http()
      .patch(`/v1/webhooks/${id}`)
      .set(auth(tenant.apiKey))
      .send({ enabled: true, events: ['bid.expired', 'round.cleared'] });
    expect(on.body).toMatchObject({
      enabled: true,
      disabledAt: null,
      disabledReason: null,
      events: ['bid.expired', 'round.cleared'],
    });
    await t.http().delete(`/v1/webhooks/${id}`).set(auth(tenant.apiKey)).expect(204);
  });

  it('rotates the secret with a grace period for the previous one', async () => {
    const created = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    const id = created.body.id;
    const rotated = await t.http().post(`/v1/webhooks/${id}/rotate-secret`).set(auth(tenant.apiKey));
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const graceEnds = Date.parse(rotated.body.previousSecretExpiresAt);
    expect(Math.abs(graceEnds - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    const now = await t.http().post(`/v1/webhooks/${id}/rotate-secret?graceSeconds=0`).set(auth(tenant.apiKey));
    expect(now.body.previousSecretExpiresAt).toBeNull();
    const [row] = await t.dataSource.query('SELECT previous_secret_sealed FROM webhook_endpoints WHERE id = $1', [id]);
    expect(row.previous_secret_sealed).toBeNull();
    const bad = await t.http().post(`/v1/webhooks/${id}/rotate-secret?graceSeconds=-1`).set(auth(tenant.apiKey));
    expect(bad.status).toBe(400);
    expect(problems(bad)).toEqual([expect.stringMatching(/^graceSeconds:/)]);
    await t.http().delete(`/v1/webhooks/${id}`).set(auth(tenant.apiKey)).expect(204);
  });

  it('deletes an endpoint and forgets its secret', async () => {
    const created = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    await t.http().delete(`/v1/webhooks/${created.body.id}`).set(auth(tenant.apiKey)).expect(204);
    await t.http().get(`/v1/webhooks/${created.body.id}`).set(auth(tenant.apiKey)).expect(404);
    await t.http().delete(`/v1/webhooks/${created.body.id}`).set(auth(tenant.apiKey)).expect(404);
    const [row] = await t.dataSource.query('SELECT secret_sealed, deleted_at FROM webhook_endpoints WHERE id = $1', [
      created.body.id,
    ]);
    expect(row.secret_sealed).toBeNull();
    expect(row.deleted_at).not.toBeNull();
  });

  it(`allows at most ${MAX_WEBHOOKS_PER_TENANT} endpoints per tenant`, async () => {
    const limited = await createTenant(t, 'limited');
    for (let i = 0; i < MAX_WEBHOOKS_PER_TENANT; i++)
      expect((await register(limited.apiKey, { url: `${PUBLIC_URL}/${i}`, events: ['bid.allocated'] })).status).toBe(
        201,
      );
    const over = await register(limited.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    expect(over.status).toBe(409);
    expect(over.body.error).toBe('webhook_limit_reached');
  });
});

describe('who may call', () => {
  it('only tenant keys: no key 401, other roles 403', async () => {
    const provider = await createProvider(t, 'p');
    const finance = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'fin' });
    expect((await t.http().get('/v1/webhooks')).status).toBe(401);
    for (const key of [t.adminKey, provider.apiKey, finance.body.apiKey]) {
      const listed = await t.http().get('/v1/webhooks').set(auth(key));
      expect(listed.status).toBe(403);
      expect(listed.body.error).toBe('role_not_allowed');
      expect((await register(key, { url: PUBLIC_URL, events: ['bid.allocated'] })).status).toBe(403);
    }
  });

  it("answers another tenant's webhook with 404, whatever the operation", async () => {
    const mine = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    const id = mine.body.id;
    const as = (key: string) => ({
      get: () => t.http().get(`/v1/webhooks/${id}`).set(auth(key)),
      patch: () => t.http().patch(`/v1/webhooks/${id}`).set(auth(key)).send({ enabled: false }),
      rotate: () => t.http().post(`/v1/webhooks/${id}/rotate-secret`).set(auth(key)),
      deliveries: () => t.http().get(`/v1/webhooks/${id}/deliveries`).set(auth(key)),
      remove: () => t.http().delete(`/v1/webhooks/${id}`).set(auth(key)),
    });
    for (const call of Object.values(as(other.apiKey))) {
      const response = await call();
      expect(response.status).toBe(404);
      expect(response.body.error).toBe('webhook_not_found');
    }
    expect((await as(tenant.apiKey).get()).body.enabled).toBe(true);
    expect(
      (await t.http().get('/v1/webhooks').set(auth(other.apiKey))).body.webhooks.map((w: { id: string }) => w.id),
    ).not.toContain(id);
    expect((await t.http().get('/v1/webhooks/not-a-uuid').set(auth(tenant.apiKey))).status).toBe(404);
    expect((await t.http().get('/v1/webhooks/deliveries/not-a-uuid').set(auth(tenant.apiKey))).body.error).toBe(
      'webhook_delivery_not_found',
    );
    await as(tenant.apiKey).remove().expect(204);
  });

  it('validates the delivery log query', async () => {
    const mine = await register(tenant.apiKey, { url: PUBLIC_URL, events: ['bid.allocated'] });
    const page = await t.http().get(`/v1/webhooks/${mine.body.id}/deliveries`).set(auth(tenant.apiKey));
    expect(page.body).toEqual({ deliveries: [], nextCursor: null });
    const bad = await t
      .http()
      .get(`/v1/webhooks/${mine.body.id}/deliveries?status=lost&limit=0&cursor=x`)
      .set(auth(tenant.apiKey));
    expect(bad.status).toBe(400);
    expect(problems(bad)).toEqual(expect.arrayContaining(['status:is_in', 'limit:min']));
    await t.http().delete(`/v1/webhooks/${mine.body.id}`).set(auth(tenant.apiKey)).expect(204);
  });

  it('describes the endpoints in the OpenAPI document', async () => {
    const paths = Object.keys((await t.http().get('/docs/openapi.json')).body.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/webhooks',
        '/v1/webhooks/{id}',
        '/v1/webhooks/{id}/rotate-secret',
        '/v1/webhooks/{id}/deliveries',
        '/v1/webhooks/deliveries/{id}',
        '/v1/webhooks/deliveries/{id}/redeliver',
      ]),
    );
  });
});

describe('without WEBHOOK_SECRET_KEY on an operator database', () => {
  it('answers 503 naming the variable, and starts anyway', async () => {
    const bare = await createTestApp();
    try {
      const someone = await createTenant(bare, 'someone');
      const response = await bare
        .http()
        .post('/v1/webhooks')
        .set(auth(someone.apiKey))
        .send({ url: PUBLIC_URL, events: ['bid.allocated'] });
      expect(response.status).toBe(503);
      expect(response.body.error).toBe('webhooks_not_configured');
      expect(response.body.message).toContain('WEBHOOK_SECRET_KEY');
      expect((await bare.http().get('/v1/webhooks').set(auth(someone.apiKey))).body).toEqual({ webhooks: [] });
    } finally {
      await bare.close();
    }
  });
});
