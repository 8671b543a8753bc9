import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTITIES } from '../../src/app.entities.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { openDatabase } from '../../src/platform/database/database.js';
import { ADMIN_DATABASE_URL, testDatabaseName, urlFor } from '../support/database-names.js';

const name = testDatabaseName(inject('gpumarketRunId'), `blank_${randomBytes(4).toString('hex')}`);

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

afterAll(() => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));

describe('migrations', () => {
  it('replicas starting together on an unmigrated database apply each migration once and all start', async () => {
    await admin((c) => c.query(`CREATE DATABASE "${name}"`));
    const config = loadConfig({ DATABASE_URL: urlFor(name), ADMIN_API_KEY: 'x'.repeat(32) });
    const replicas = await Promise.all([1, 2, 3].map(() => openDatabase(config, { entities: ENTITIES })));
    try {
      const applied: Array<{ name: string; n: number }> = await replicas[0].dataSource.query(
        'SELECT name, count(*)::int AS n FROM migrations GROUP BY name',
      );
      expect(applied.length).toBeGreaterThan(5);
      expect(applied.every((m) => m.n === 1)).toBe(true);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});
