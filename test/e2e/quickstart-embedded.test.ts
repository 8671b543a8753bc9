import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer, type Server } from '../../src/server.js';

/**
 * The README's quickstart as a new user runs it: nothing configured (no DATABASE_URL, no
 * REDIS_URL, no ADMIN_API_KEY), so the service runs on the embedded PGlite, generates an admin
 * key, and serves the whole tour over real HTTP. A restart keeps the data and the key.
 */
const dataDir = await mkdtemp(join(tmpdir(), 'gpumarket-quickstart-'));
let server: Server | null = null;

async function start(): Promise<{ server: Server; base: string }> {
  const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'error' });
  expect(config.databaseUrl).toBeNull();
  server = await createServer(config, { logger: ['error'] });
  await server.app.listen(0, '127.0.0.1');
  const { port } = server.app.getHttpServer().address() as AddressInfo;
  return { server, base: `http://127.0.0.1:${port}` };
}

async function stop(): Promise<void> {
  await server?.app.close();
  server = null;
}

afterAll(async () => {
  await stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function call(base: string, method: string, path: string, key?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('quickstart on the embedded database', () => {
  let adminKey = '';
  let tenantKey = '';
  let bidId = '';

  it('starts with nothing configured, generates an admin key, and runs the API tour', async () => {
    const { server: first, base } = await start();
    expect(first.database.embedded).toBe(true);
    expect(first.generatedAdminKey).toMatch(/^gm_/);
    adminKey = first.generatedAdminKey!;

    expect((await call(base, 'GET', '/health')).body).toMatchObject({
      status: 'ok',
      database: { status: 'up', embedded: true },
    });
    const tenant = await call(base, 'POST', '/v1/tenants', adminKey, { name: 'acme' });
    expect(tenant.status).toBe(201);
    tenantKey = tenant.body.apiKey;
    const provider = await call(base, 'POST', '/v1/providers', adminKey, { name: 'north', adapter: 'simulated' });
    expect(provider.status).toBe(201);
    const nodes = await call(base, 'PUT', '/v1/nodes', provider.body.apiKey, {
      nodes: [
        {
          externalId: 'gpu-01',
          gpuModel: 'H100-SXM-80GB',
          gpus: 8,
          region: 'eu-west',
          block: 'b1',
          reservePrice: '1.80',
        },
      ],
    });
    expect(nodes.status).toBe(200);

    const bid = {
      gpus: 8,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' }],
      contiguity: 'node',
      preemptible: false,
      runtimeSeconds: 3600,
      workload: { image: 'x' },
    };
    const submitted = await fetch(`${base}/v1/bids`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tenantKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': 'qs-1' },
      body: JSON.stringify(bid),
    });
    expect(submitted.status).toBe(201);
    bidId = ((await submitted.json()) as { id: string }).id;
    const list = await call(base, 'GET', '/v1/bids', tenantKey);
    expect(list.body.bids.map((b: { id: string }) => b.id)).toContain(bidId);
    const cancelled = await call(base, 'DELETE', `/v1/bids/${bidId}`, tenantKey);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    await stop();
  });

  it('keeps data and the admin key across a restart, and generates no second key', async () => {
    const { server: second, base } = await start();
    expect(second.generatedAdminKey).toBeNull();
    expect((await call(base, 'GET', '/v1/tenants', adminKey)).body.map((t: { name: string }) => t.name)).toContain(
      'acme',
    );
    const bid = await call(base, 'GET', `/v1/bids/${bidId}`, tenantKey);
    expect(bid).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    await stop();
  });
});
