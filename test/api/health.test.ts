import { afterAll, describe, expect, it } from 'vitest';
import { HealthRepository } from '../../src/modules/health/health.repository.js';
import { HealthService } from '../../src/modules/health/health.service.js';
import { auth } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const apps: TestApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

async function app(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await createTestApp(env);
  apps.push(t);
  return t;
}

describe('GET /health', () => {
  it('reports the database without needing a key, and no Redis when none is configured', async () => {
    const t = await app();
    const response = await t.http().get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', database: { status: 'up', embedded: false } });
    expect(response.body.redis).toBeUndefined();
  });

  it('reports Redis when REDIS_URL is set', async () => {
    const t = await app({ REDIS_URL: 'redis://127.0.0.1:6379' });
    const response = await t.http().get('/health');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok', redis: { status: 'up' } });
  });

  it('reports Redis as down, and the service as degraded, when Redis does not answer', async () => {
    // The app itself needs Redis at boot once REDIS_URL is set, so the probe is checked on its own
    // against a port where nothing listens.
    const t = apps[0];
    const database = { dataSource: t.dataSource, embedded: false, close: async () => undefined };
    const health = new HealthService(new HealthRepository(t.dataSource), database, {
      ...t.config,
      redisUrl: 'redis://127.0.0.1:1',
    });
    try {
      const report = await health.check();
      expect(report).toMatchObject({
        status: 'degraded',
        database: { status: 'up' },
        redis: { status: 'down', error: expect.any(String) },
      });
    } finally {
      await health.onApplicationShutdown();
    }
  });
});

describe('OpenAPI', () => {
  it('serves the API description at /docs with the bid and node operations', async () => {
    const t = apps[0] ?? (await app());
    const spec = await t.http().get('/docs/openapi.json');
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(['/v1/bids', '/v1/bids/{id}', '/v1/nodes', '/v1/tenants']),
    );
    const ui = await t.http().get('/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
    await t.http().get('/v1/gpu-models').set(auth(t.adminKey)).expect(200);
  });
});
