import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../src/modules/webhooks/secret-box.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer, type Server } from '../../src/server.js';
import { auth, createTenant } from '../support/fixtures.js';
import type { TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { documentedRecipe, emit, registerWebhook } from './support/webhook-fixtures.js';
import { until, WebhookReceiver } from './support/webhook-receiver.js';

describe('changing WEBHOOK_SECRET_KEY', () => {
  let database: TestDatabase;
  const receiver = new WebhookReceiver();
  afterAll(async () => {
    await receiver.stop();
    await database?.drop();
  });

  /** The service as `gpumarket serve` starts it, on the same database each time. */
  async function start(env: Record<string, string>): Promise<TestApp & { server: Server }> {
    const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
    const config = loadConfig({
      DATABASE_URL: database.url,
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'error',
      ROUND_PERIOD_SECONDS: '86400',
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      ...env,
    });
    const server = await createServer(config, { logger: ['error'] });
    return {
      server,
      app: server.app,
      config,
      database,
      dataSource: server.database.dataSource,
      adminKey,
      http: () => request(server.app.getHttpServer()),
      close: () => server.app.close(),
    };
  }

  it('re-seals every secret under the new key at start-up; tenants keep their secrets', async () => {
    database = await createTestDatabase();
    await receiver.start();
    const verify = await documentedRecipe();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);

    const before = await start({ WEBHOOK_SECRET_KEY: oldKey.toString('hex') });
    const tenant = await createTenant(before, 'kept');
    const hook = await registerWebhook(before, tenant.apiKey, receiver.url('/kept'), ['bid.expired']);
    const rotated = await before.http().post(`/v1/webhooks/${hook.id}/rotate-secret`).set(auth(tenant.apiKey));
    await before.close();

    const during = await start({
      WEBHOOK_SECRET_KEY: newKey.toString('hex'),
      WEBHOOK_SECRET_KEY_PREVIOUS: oldKey.toString('base64'),
    });
    const [row] = await during.dataSource.query(
      'SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints WHERE id = $1',
      [hook.id],
    );
    expect(row.secret_sealed.split('.')[1]).toBe(keyIdOf(newKey));
    expect(row.previous_secret_sealed.split('.')[1]).toBe(keyIdOf(newKey));
    await during.close();

    // The previous key can go now: everything is under the new one.
    const after = await start({ WEBHOOK_SECRET_KEY: newKey.toString('hex') });
    try {
      await emit(after, [{ tenantId: tenant.id, type: 'bid.expired', data: {} }]);
      await until('the delivery', () => receiver.on('/kept').length === 1);
      const [delivered] = receiver.on('/kept');
      const signature = delivered.headers['x-gpumarket-signature'] as string;
      expect(verify(delivered.rawBody, signature, [rotated.body.secret])).toBe(true);
      expect(verify(delivered.rawBody, signature, [hook.secret])).toBe(true); // still in its grace period
    } finally {
      await after.close();
    }
  });
});
