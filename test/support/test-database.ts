import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { ADMIN_DATABASE_URL, testDatabaseName, urlFor } from './database-names.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, fully migrated database of its own for a test file (or a test), cloned from the
 * run's template. Call drop() in afterAll; the run's teardown drops leftovers anyway.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const template = inject('gpumarketTemplate');
  const runId = inject('gpumarketRunId');
  if (!template) throw new Error('test/support/global-setup.ts did not run: add it to globalSetup in vitest.config.ts');
  const name = testDatabaseName(runId, randomBytes(6).toString('hex'));
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: urlFor(name),
    async drop() {
      const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
