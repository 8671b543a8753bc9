import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DataSource } from 'typeorm';
import { type AppConfig, loadConfig } from '../../src/platform/config/config.js';
import { createServer } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface TestApp {
  readonly app: INestApplication;
  readonly config: AppConfig;
  readonly database: TestDatabase;
  readonly dataSource: DataSource;
  readonly adminKey: string;
  /** supertest against the app's HTTP server. */
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

/**
 * Boots the real app (same createServer as `gpumarket serve`) on a fresh database of its own.
 * `env` overrides configuration variables (e.g. REDIS_URL, MIN_HOLD_SECONDS). The market loop's
 * period defaults to a day so that no round changes bids behind a test's back; a test of rounds
 * sets ROUND_PERIOD_SECONDS or runs rounds itself.
 */
export async function createTestApp(
  env: Record<string, string> = {},
  options: { shareDatabaseOf?: TestApp } = {},
): Promise<TestApp> {
  // A second market process of the same market: the same database and queues; the first app
  // owns the database and drops it.
  const shared = options.shareDatabaseOf;
  const database = shared?.database ?? (await createTestDatabase());
  const adminKey = shared?.adminKey ?? `test-admin-${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    DATABASE_URL: database.url,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'error',
    ROUND_PERIOD_SECONDS: '86400',
    QUEUE_PREFIX: `test-${database.name}`,
    ...env,
  });
  try {
    const server = await createServer(config, { logger: ['error'] });
    const dataSource = server.database.dataSource;
    return {
      app: server.app,
      config,
      database,
      dataSource,
      adminKey,
      http: () => request(server.app.getHttpServer()),
      async close() {
        await server.app.close();
        if (!shared) await database.drop();
      },
    };
  } catch (error) {
    if (!shared) await database.drop();
    throw error;
  }
}
