import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer, type Server } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

function boot(env: Record<string, string> = {}): Promise<Server> {
  return createServer(
    loadConfig({
      DATABASE_URL: database.url,
      ROUND_PERIOD_SECONDS: '86400',
      DEMO_FLEET: 'false',
      API_KEY_CACHE_SECONDS: '0',
      ...env,
    }),
    {
      logger: false,
    },
  );
}

async function status(server: Server, key: string): Promise<number> {
  return (await request(server.app.getHttpServer()).get('/v1/tenants').set('Authorization', `Bearer ${key}`)).status;
}

describe('the first admin key', () => {
  it('is generated once, even when two replicas start together, and still works after a restart', async () => {
    const [a, b] = await Promise.all([boot(), boot()]);
    const generated = [a.generatedAdminKey, b.generatedAdminKey].filter((k) => k !== null);
    expect(generated).toHaveLength(1);
    const key = generated[0]!;
    expect(await status(a, key)).toBe(200);
    await Promise.all([a.app.close(), b.app.close()]);

    const again = await boot();
    expect(again.generatedAdminKey).toBeNull();
    expect(await status(again, key)).toBe(200);
    await again.app.close();
  });

  it('follows ADMIN_API_KEY: a changed value replaces the previous one', async () => {
    const first = 'first-admin-key-0123456789abcdef';
    const second = 'second-admin-key-0123456789abcdef';
    const one = await boot({ ADMIN_API_KEY: first });
    expect(one.generatedAdminKey).toBeNull();
    expect(await status(one, first)).toBe(200);
    await one.app.close();

    const two = await boot({ ADMIN_API_KEY: second });
    expect(await status(two, second)).toBe(200);
    expect(await status(two, first)).toBe(401);
    await two.app.close();
  });
});
