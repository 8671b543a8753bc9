import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer, type Server } from '../../src/server.js';

/**
 * The key API on the embedded PGlite (one session, one connection): the migration applies there,
 * and creating, rotating with a grace period, revoking, last use and the audit trail all work.
 */
const dataDir = await mkdtemp(join(tmpdir(), 'gpumarket-api-keys-'));
let server: Server | null = null;

afterAll(async () => {
  await server?.app.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('API keys on the embedded database', () => {
  it('creates, lists, rotates, revokes and audits keys', async () => {
    server = await createServer(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', DEMO_FLEET: 'false' }), {
      logger: ['error'],
    });
    expect(server.database.embedded).toBe(true);
    const admin = server.generatedAdminKey!;
    const http = () => request(server!.app.getHttpServer());
    const as = (key: string) => ({ Authorization: `Bearer ${key}` });

    const tenant = (await http().post('/v1/tenants').set(as(admin)).send({ name: 'acme' }).expect(201)).body;
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const key = (await http().post('/v1/api-keys').set(as(tenant.apiKey)).send({ name: 'ci', expiresAt }).expect(201))
      .body;
    expect(key).toMatchObject({ role: 'tenant', tenantId: tenant.id, expiresAt, prefix: key.apiKey.slice(0, 10) });
    await http().get('/v1/bids').set(as(key.apiKey)).expect(200);

    const rotated = (
      await http().post(`/v1/api-keys/${key.id}/rotate?graceSeconds=600`).set(as(tenant.apiKey)).expect(201)
    ).body;
    expect(rotated).toMatchObject({ name: 'ci', expiresAt, replaces: key.id });
    await http().get('/v1/bids').set(as(key.apiKey)).expect(200);
    await http().get('/v1/bids').set(as(rotated.apiKey)).expect(200);

    await http().delete(`/v1/api-keys/${key.id}`).set(as(tenant.apiKey)).expect(204);
    expect((await http().get('/v1/bids').set(as(key.apiKey))).status).toBe(401);

    const list = (await http().get('/v1/api-keys').set(as(tenant.apiKey)).expect(200)).body.apiKeys;
    expect(list.find((k: { id: string }) => k.id === key.id)).toMatchObject({
      status: 'revoked',
      replacedBy: rotated.id,
      lastUsedAt: expect.any(String),
    });
    expect(JSON.stringify(list)).not.toContain(rotated.apiKey);

    const audit = (await http().get(`/v1/api-keys/audit?tenantId=${tenant.id}`).set(as(admin)).expect(200)).body.events;
    expect(audit.map((e: { action: string }) => e.action).sort()).toEqual([
      'created',
      'created',
      'created',
      'revoked',
      'rotated',
    ]);
  });
});
