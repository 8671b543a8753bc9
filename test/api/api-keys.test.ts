import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { hashApiKey } from '../../src/modules/auth/api-key.service.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer, type Server } from '../../src/server.js';
import { auth, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

/**
 * API_KEY_CACHE_SECONDS: long on the app most tests use (so that a test passing there shows
 * what the cache does not hide), short on the second replica that shows revocation within it.
 */
const LONG_CACHE_SECONDS = 60;
const CACHE_SECONDS = 3;

let t: TestApp;
let acme: { id: string; apiKey: string };
let beta: { id: string; apiKey: string };
let north: { id: string; apiKey: string };
let financeKey: string;

beforeAll(async () => {
  t = await createTestApp({ API_KEY_CACHE_SECONDS: String(LONG_CACHE_SECONDS) });
  acme = await createTenant(t, 'acme');
  beta = await createTenant(t, 'beta');
  north = await createProvider(t, 'north');
  financeKey = (
    await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'finance team' })
      .expect(201)
  ).body.apiKey;
});
afterAll(async () => {
  await t?.close();
});

type Key = Record<string, any>;

async function createKey(key: string, body: Record<string, unknown>): Promise<Key> {
  const response = await t.http().post('/v1/api-keys').set(auth(key)).send(body);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

async function detail(id: string): Promise<Key> {
  return (await t.http().get(`/v1/api-keys/${id}`).set(auth(t.adminKey)).expect(200)).body;
}

async function statusWith(key: string, app: { getHttpServer(): unknown } = t.app): Promise<number> {
  return (
    await request(app.getHttpServer() as Parameters<typeof request>[0])
      .get('/v1/gpu-models')
      .set(auth(key))
  ).status;
}

async function auditOf(keyId: string): Promise<Key[]> {
  return (await t.http().get(`/v1/api-keys/audit?keyId=${keyId}`).set(auth(t.adminKey)).expect(200)).body.events;
}

describe('creating and listing keys', () => {
  it('lets admin issue a key for a tenant with an expiry; the secret is shown once and never listed', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const created = await createKey(t.adminKey, { role: 'tenant', name: 'ci deploys', tenantId: acme.id, expiresAt });
    expect(created).toEqual({
      id: expect.any(String),
      name: 'ci deploys',
      role: 'tenant',
      tenantId: acme.id,
      providerId: null,
      prefix: created.apiKey.slice(0, 10),
      status: 'active',
      expiresAt,
      createdAt: expect.any(String),
      lastUsedAt: null,
      revokedAt: null,
      replacedBy: null,
      apiKey: expect.stringMatching(/^gm_[A-Za-z0-9_-]{43}$/),
    });
    expect(await statusWith(created.apiKey)).toBe(200);

    const list = await t.http().get(`/v1/api-keys?tenantId=${acme.id}`).set(auth(t.adminKey)).expect(200);
    const listed = list.body.apiKeys.find((k: Key) => k.id === created.id);
    expect(listed).toMatchObject({ name: 'ci deploys', prefix: created.prefix, expiresAt });
    expect(listed).not.toHaveProperty('apiKey');
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(created.apiKey);
    expect(text).not.toContain(hashApiKey(created.apiKey));
    expect(JSON.stringify((await t.http().get(`/v1/api-keys/${created.id}`).set(auth(t.adminKey))).body)).not.toContain(
      created.apiKey,
    );
  });

  it('lets a tenant issue and list its own keys only', async () => {
    const own = await createKey(acme.apiKey, { name: 'notebook' });
    expect(own).toMatchObject({ role: 'tenant', tenantId: acme.id, providerId: null });
    await createKey(beta.apiKey, { name: 'beta laptop' });

    const list = await t.http().get('/v1/api-keys').set(auth(acme.apiKey)).expect(200);
    const names = list.body.apiKeys.map((k: Key) => k.name);
    expect(names).toEqual(expect.arrayContaining(['acme (first key)', 'notebook']));
    expect(list.body.apiKeys.every((k: Key) => k.tenantId === acme.id)).toBe(true);
    expect(names).not.toContain('beta laptop');
    const asked = await t.http().get(`/v1/api-keys?tenantId=${beta.id}`).set(auth(acme.apiKey)).expect(200);
    expect(asked.body.apiKeys).toEqual([]);
  });

  it('lets a provider issue and list its own keys', async () => {
    const own = await createKey(north.apiKey, { name: 'agent fleet', role: 'provider' });
    expect(own).toMatchObject({ role: 'provider', providerId: north.id, tenantId: null });
    const list = await t.http().get('/v1/api-keys').set(auth(north.apiKey)).expect(200);
    expect(list.body.apiKeys.map((k: Key) => k.id)).toContain(own.id);
    expect(list.body.apiKeys.every((k: Key) => k.providerId === north.id)).toBe(true);
  });

  it('keeps a tenant to keys of its own role for itself', async () => {
    const admin = await t.http().post('/v1/api-keys').set(auth(acme.apiKey)).send({ role: 'admin', name: 'x' });
    expect(admin.status).toBe(403);
    expect(admin.body.error).toBe('role_not_allowed');
    const other = await t.http().post('/v1/api-keys').set(auth(acme.apiKey)).send({ name: 'x', tenantId: beta.id });
    expect(other.status).toBe(400);
    expect(other.body.details).toContainEqual(expect.objectContaining({ field: 'tenantId', rule: 'exists' }));
  });

  it('pages the list newest first with a cursor', async () => {
    const first = await t.http().get('/v1/api-keys?limit=2').set(auth(t.adminKey)).expect(200);
    expect(first.body.apiKeys).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t
      .http()
      .get(`/v1/api-keys?limit=2&cursor=${first.body.nextCursor}`)
      .set(auth(t.adminKey))
      .expect(200);
    const firstIds = first.body.apiKeys.map((k: Key) => k.id);
    expect(second.body.apiKeys.some((k: Key) => firstIds.includes(k.id))).toBe(false);
    expect(Date.parse(second.body.apiKeys[0].createdAt)).toBeLessThanOrEqual(
      Date.parse(first.body.apiKeys[1].createdAt),
    );
  });

  it.each([
    ['an empty name', { role: 'finance', name: '' }, 'name', 'is_length'],
    ['the reserved name', { role: 'admin', name: 'ADMIN_API_KEY' }, 'name', 'reserved'],
    ['an unknown role', { role: 'root', name: 'x' }, 'role', 'is_in'],
    ['no role from admin', { name: 'x' }, 'role', 'required'],
    [
      'an expiry without a timezone',
      { role: 'finance', name: 'x', expiresAt: '2030-01-01T00:00:00' },
      'expiresAt',
      'is_instant',
    ],
    [
      'an expiry in the past',
      { role: 'finance', name: 'x', expiresAt: '2020-01-01T00:00:00Z' },
      'expiresAt',
      'in_past',
    ],
    ['an unknown field', { role: 'finance', name: 'x', secret: 'mine' }, 'secret', 'unknown_field'],
  ])('refuses %s with 400 naming the field and rule', async (_what, body, field, rule) => {
    const response = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send(body);
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule }));
  });

  it.each([
    ['/v1/api-keys?status=lost', 'status', 'is_in'],
    ['/v1/api-keys?cursor=nope', 'cursor', 'is_cursor'],
    ['/v1/api-keys?tenantId=acme', 'tenantId', 'is_uuid'],
    ['/v1/api-keys/audit?action=deleted', 'action', 'is_in'],
  ])('refuses the query %s with 400', async (path, field, rule) => {
    const response = await t.http().get(path).set(auth(t.adminKey));
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule }));
  });

  it('keeps finance to the audit trail', async () => {
    expect((await t.http().get('/v1/api-keys').set(auth(financeKey))).status).toBe(403);
    expect((await t.http().post('/v1/api-keys').set(auth(financeKey)).send({ name: 'x' })).status).toBe(403);
    expect((await t.http().get('/v1/api-keys/audit').set(auth(financeKey))).status).toBe(200);
    expect((await t.http().get('/v1/api-keys/audit').set(auth(acme.apiKey))).status).toBe(403);
  });
});

describe("another owner's keys", () => {
  it('are not found for a tenant: not read, revoked or rotated, and keep working', async () => {
    const betaKey = await createKey(beta.apiKey, { name: 'beta ci' });
    for (const [method, path] of [
      ['get', `/v1/api-keys/${betaKey.id}`],
      ['delete', `/v1/api-keys/${betaKey.id}`],
      ['post', `/v1/api-keys/${betaKey.id}/rotate`],
    ] as const) {
      const response = await t.http()[method](path).set(auth(acme.apiKey));
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(response.body.error).toBe('api_key_not_found');
    }
    expect((await t.http().get(`/v1/api-keys/${betaKey.id}`).set(auth(north.apiKey))).status).toBe(404);
    expect((await t.http().get('/v1/api-keys/not-a-uuid').set(auth(acme.apiKey))).status).toBe(404);
    expect(await statusWith(betaKey.apiKey)).toBe(200);
    expect((await detail(betaKey.id)).revokedAt).toBeNull();
  });
});

describe('revoking', () => {
  it('refuses a revoked key at once on the replica that revoked it, and records who did it', async () => {
    const key = await createKey(acme.apiKey, { name: 'to revoke' });
    expect(await statusWith(key.apiKey)).toBe(200); // now cached
    await t.http().delete(`/v1/api-keys/${key.id}`).set(auth(acme.apiKey)).expect(204);
    const refused = await t.http().get('/v1/gpu-models').set(auth(key.apiKey));
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('api_key_invalid');
    expect(await detail(key.id)).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });

    // Again: nothing changes, nothing more is recorded.
    await t.http().delete(`/v1/api-keys/${key.id}`).set(auth(t.adminKey)).expect(204);
    const events = await auditOf(key.id);
    expect(events.map((e) => e.action).sort()).toEqual(['created', 'revoked']);
    const acmeKeyId = (await t.http().get('/v1/api-keys').set(auth(acme.apiKey))).body.apiKeys.find(
      (k: Key) => k.name === 'acme (first key)',
    ).id;
    expect(events.find((e) => e.action === 'revoked')).toMatchObject({
      actorKeyId: acmeKeyId,
      actorRole: 'tenant',
      tenantId: acme.id,
      keyName: 'to revoke',
    });
  });

  it('stops a key on another replica within API_KEY_CACHE_SECONDS', async () => {
    const replica = await createServer(
      loadConfig({
        DATABASE_URL: t.database.url,
        ADMIN_API_KEY: t.adminKey,
        LOG_LEVEL: 'error',
        ROUND_PERIOD_SECONDS: '86400',
        QUEUE_PREFIX: `test-${t.database.name}`,
        API_KEY_CACHE_SECONDS: String(CACHE_SECONDS),
      }),
      { logger: ['error'] },
    );
    try {
      const key = await createKey(t.adminKey, { role: 'provider', name: 'replicated', providerId: north.id });
      expect(await statusWith(key.apiKey, replica.app)).toBe(200); // cached on the replica
      await t.http().delete(`/v1/api-keys/${key.id}`).set(auth(t.adminKey)).expect(204);
      const revokedAt = Date.now();
      await until(
        'the other replica refuses the revoked key',
        async () => (await statusWith(key.apiKey, replica.app)) === 401,
        CACHE_SECONDS * 1000 + 5000,
      );
      // The cache time, plus the time a poll takes on a busy machine.
      expect(Date.now() - revokedAt).toBeLessThanOrEqual(CACHE_SECONDS * 1000 + 2000);
    } finally {
      await replica.app.close();
    }
  });

  it('refuses to revoke or rotate the key that ADMIN_API_KEY sets', async () => {
    const list = await t.http().get('/v1/api-keys?role=admin').set(auth(t.adminKey)).expect(200);
    const config = list.body.apiKeys.find((k: Key) => k.name === 'ADMIN_API_KEY');
    for (const path of [`/v1/api-keys/${config.id}`, `/v1/api-keys/${config.id}/rotate`]) {
      const response = path.endsWith('rotate')
        ? await t.http().post(path).set(auth(t.adminKey))
        : await t.http().delete(path).set(auth(t.adminKey));
      expect(response.status).toBe(409);
      expect(response.body.error).toBe('api_key_from_config');
    }
    expect(await statusWith(t.adminKey)).toBe(200);
  });
});

describe('rotating', () => {
  it('issues a new key with the same name, role, owner and expiry, and revokes the old one at once', async () => {
    const expiresAt = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const old = await createKey(acme.apiKey, { name: 'nightly', expiresAt });
    const rotated = await t.http().post(`/v1/api-keys/${old.id}/rotate`).set(auth(acme.apiKey));
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({
      name: 'nightly',
      role: 'tenant',
      tenantId: acme.id,
      expiresAt,
      status: 'active',
      replaces: old.id,
      apiKey: expect.stringMatching(/^gm_/),
    });
    expect(rotated.body.id).not.toBe(old.id);
    expect(await statusWith(rotated.body.apiKey)).toBe(200);
    expect(await statusWith(old.apiKey)).toBe(401);
    expect(await detail(old.id)).toMatchObject({
      status: 'revoked',
      replacedBy: rotated.body.id,
      revokedAt: rotated.body.previousKeyStopsAt,
    });

    const again = await t.http().post(`/v1/api-keys/${old.id}/rotate`).set(auth(acme.apiKey));
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('api_key_revoked');

    const oldEvents = await auditOf(old.id);
    expect(oldEvents.find((e) => e.action === 'rotated')).toMatchObject({
      relatedKeyId: rotated.body.id,
      actorRole: 'tenant',
      details: { graceSeconds: 0 },
    });
    const newEvents = await auditOf(rotated.body.id);
    expect(newEvents).toEqual([
      expect.objectContaining({ action: 'created', relatedKeyId: old.id, actorRole: 'tenant' }),
    ]);
  });

  it('lets the old key work until a grace period ends, and rotates a key only once', async () => {
    const old = await createKey(t.adminKey, { role: 'tenant', name: 'graceful', tenantId: beta.id });
    const before = Date.now();
    const rotated = await t
      .http()
      .post(`/v1/api-keys/${old.id}/rotate?graceSeconds=3600`)
      .set(auth(t.adminKey))
      .expect(201);
    const stops = Date.parse(rotated.body.previousKeyStopsAt);
    expect(stops).toBeGreaterThanOrEqual(before + 3_600_000 - 5_000);
    expect(stops).toBeLessThanOrEqual(Date.now() + 3_600_000 + 5_000);
    expect(rotated.body.expiresAt).toBeNull();
    expect(await statusWith(old.apiKey)).toBe(200);
    expect(await statusWith(rotated.body.apiKey)).toBe(200);
    expect(await detail(old.id)).toMatchObject({
      status: 'active',
      replacedBy: rotated.body.id,
      expiresAt: rotated.body.previousKeyStopsAt,
      revokedAt: null,
    });

    const twice = await t.http().post(`/v1/api-keys/${old.id}/rotate`).set(auth(t.adminKey));
    expect(twice.status).toBe(409);
    expect(twice.body.error).toBe('api_key_already_rotated');
  });

  it.each([
    ['graceSeconds=-1', 'min'],
    ['graceSeconds=abc', 'is_int'],
    [`graceSeconds=${8 * 86_400}`, 'max'],
  ])('refuses %s with 400', async (query, rule) => {
    const key = await createKey(acme.apiKey, { name: `bad rotation ${rule}` });
    const response = await t.http().post(`/v1/api-keys/${key.id}/rotate?${query}`).set(auth(acme.apiKey));
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field: 'graceSeconds', rule }));
  });
});

describe('expiry and last use', () => {
  it('refuses an expired key at its expiry, although the key is cached for longer', async () => {
    const expiresAt = new Date(Date.now() + 1500);
    const key = await createKey(t.adminKey, {
      role: 'tenant',
      name: 'short-lived',
      tenantId: acme.id,
      expiresAt: expiresAt.toISOString(),
    });
    expect(await statusWith(key.apiKey)).toBe(200); // now cached for a minute, far longer than it lives
    await until('the expired key is refused', async () => (await statusWith(key.apiKey)) === 401, 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect((await detail(key.id)).status).toBe('expired');
    const expired = await t
      .http()
      .get(`/v1/api-keys?status=expired&tenantId=${acme.id}`)
      .set(auth(t.adminKey))
      .expect(200);
    expect(expired.body.apiKeys.map((k: Key) => k.id)).toContain(key.id);
    const rotation = await t.http().post(`/v1/api-keys/${key.id}/rotate`).set(auth(t.adminKey));
    expect(rotation.body.error).toBe('api_key_expired');
  });

  it('records lastUsedAt on use, without a write on every request', async () => {
    const key = await createKey(t.adminKey, { role: 'provider', name: 'used', providerId: north.id });
    expect((await detail(key.id)).lastUsedAt).toBeNull();
    expect(await statusWith(key.apiKey)).toBe(200);
    const first = (await detail(key.id)).lastUsedAt;
    expect(Date.parse(first)).toBeGreaterThanOrEqual(Date.parse(key.createdAt));
    for (let i = 0; i < 5; i += 1) expect(await statusWith(key.apiKey)).toBe(200);
    const [row] = await t.dataSource.query('SELECT last_used_at, xmin::text AS version FROM api_keys WHERE id = $1', [
      key.id,
    ]);
    expect(row.last_used_at.toISOString()).toBe(first);
    for (let i = 0; i < 5; i += 1) expect(await statusWith(key.apiKey)).toBe(200);
    const [after] = await t.dataSource.query('SELECT xmin::text AS version FROM api_keys WHERE id = $1', [key.id]);
    expect(after.version).toBe(row.version); // the row was not written again
  });
});

describe('the audit trail', () => {
  it('has a row for each change with who, when and which key, readable by admin and finance', async () => {
    const key = await createKey(north.apiKey, { name: 'audited' });
    const rotated = (await t.http().post(`/v1/api-keys/${key.id}/rotate`).set(auth(north.apiKey)).expect(201)).body;
    await t.http().delete(`/v1/api-keys/${rotated.id}`).set(auth(t.adminKey)).expect(204);

    const trail = await t
      .http()
      .get(`/v1/api-keys/audit?providerId=${north.id}&limit=200`)
      .set(auth(financeKey))
      .expect(200);
    const mine = trail.body.events.filter((e: Key) => e.keyId === key.id || e.keyId === rotated.id);
    expect(mine.map((e: Key) => `${e.keyId === key.id ? 'old' : 'new'}:${e.action}:${e.actorRole}`).sort()).toEqual([
      'new:created:provider',
      'new:revoked:admin',
      'old:created:provider',
      'old:rotated:provider',
    ]);
    for (const event of mine) {
      expect(event).toMatchObject({
        id: expect.any(String),
        providerId: north.id,
        actorKeyId: expect.any(String),
        createdAt: expect.any(String),
      });
    }
    const text = JSON.stringify(trail.body);
    expect(text).not.toContain(rotated.apiKey);
    expect(text).not.toContain(hashApiKey(rotated.apiKey));

    const revocations = await t
      .http()
      .get(`/v1/api-keys/audit?action=revoked&keyId=${rotated.id}`)
      .set(auth(t.adminKey))
      .expect(200);
    expect(revocations.body.events).toHaveLength(1);
    expect(revocations.body.events[0].actorName).toBe('ADMIN_API_KEY');
  });

  it("records a new tenant's first key as created by the service", async () => {
    const events = await t
      .http()
      .get(`/v1/api-keys/audit?tenantId=${beta.id}&action=created`)
      .set(auth(t.adminKey))
      .expect(200);
    expect(events.body.events.find((e: Key) => e.keyName === 'beta (first key)')).toMatchObject({
      actorKeyId: null,
      actorRole: null,
    });
  });
});

describe('secrets in logs', () => {
  it('never writes a secret or its hash to the log, at every log level', async () => {
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture as typeof process.stdout.write);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture as typeof process.stderr.write);
    let replica: Server | null = null;
    const secrets: string[] = [];
    try {
      replica = await createServer(
        loadConfig({
          DATABASE_URL: t.database.url,
          ADMIN_API_KEY: t.adminKey,
          LOG_LEVEL: 'debug',
          ROUND_PERIOD_SECONDS: '86400',
          QUEUE_PREFIX: `test-${t.database.name}-logs`,
        }),
      );
      const http = () => request(replica!.app.getHttpServer());
      const created = await http().post('/v1/api-keys').set(auth(acme.apiKey)).send({ name: 'logged' }).expect(201);
      const rotated = await http()
        .post(`/v1/api-keys/${created.body.id}/rotate?graceSeconds=60`)
        .set(auth(acme.apiKey))
        .expect(201);
      await http().get('/v1/api-keys').set(auth(rotated.body.apiKey)).expect(200);
      await http().delete(`/v1/api-keys/${rotated.body.id}`).set(auth(t.adminKey)).expect(204);
      await http().get('/v1/api-keys').set(auth(rotated.body.apiKey)).expect(401);
      secrets.push(created.body.apiKey, rotated.body.apiKey, t.adminKey, acme.apiKey);
    } finally {
      await replica?.app.close();
      out.mockRestore();
      err.mockRestore();
    }
    const log = written.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(log).not.toContain(hashApiKey(secret));
    }
  });
});

describe('the last admin key', () => {
  it('cannot be revoked, so that admin is never locked out', async () => {
    const own = await createTestApp({ API_KEY_CACHE_SECONDS: '0' });
    try {
      const second = (
        await own
          .http()
          .post('/v1/api-keys')
          .set(auth(own.adminKey))
          .send({ role: 'admin', name: 'second admin' })
          .expect(201)
      ).body;
      // Only the second key is left usable besides ADMIN_API_KEY's, which the API never revokes.
      await own.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE name = 'ADMIN_API_KEY'`);
      const response = await own.http().delete(`/v1/api-keys/${second.id}`).set(auth(second.apiKey));
      expect(response.status).toBe(409);
      expect(response.body.error).toBe('last_admin_key');
      const third = (
        await own
          .http()
          .post('/v1/api-keys')
          .set(auth(second.apiKey))
          .send({ role: 'admin', name: 'third admin' })
          .expect(201)
      ).body;
      await own.http().delete(`/v1/api-keys/${second.id}`).set(auth(third.apiKey)).expect(204);
    } finally {
      await own.close();
    }
  });
});

describe('OpenAPI', () => {
  it('documents every key route', async () => {
    const document = (await t.http().get('/docs/openapi.json').expect(200)).body;
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/api-keys', '/v1/api-keys/audit', '/v1/api-keys/{id}', '/v1/api-keys/{id}/rotate']),
    );
    expect(document.paths['/v1/api-keys'].get).toBeDefined();
    expect(document.paths['/v1/api-keys/{id}'].delete).toBeDefined();
  });
});
