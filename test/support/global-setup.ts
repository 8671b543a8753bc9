import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { ENTITIES } from '../../src/app.entities.js';
import { createDataSource } from '../../src/platform/database/database.js';
import { ADMIN_DATABASE_URL, DATABASE_PREFIX, runIdOf, templateName, urlFor } from './database-names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    gpumarketTemplate: string;
    gpumarketRunId: number;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function dropDatabases(client: pg.Client, names: readonly string[]): Promise<void> {
  for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/**
 * Once per `vitest run`: migrate a template database, from which every test file clones its own
 * fresh database in milliseconds (CREATE DATABASE ... TEMPLATE), so files run in parallel without
 * sharing rows. Migrations added by later features are picked up automatically.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = process.pid;
  const template = templateName(runId);
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${DATABASE_PREFIX}%`,
    ]);
    const stale = rows
      .map((r) => r.datname)
      .filter((name) => {
        const owner = runIdOf(name);
        return owner !== null && (owner === runId || !isAlive(owner));
      });
    await dropDatabases(admin, stale);
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const dataSource = createDataSource(urlFor(template), ENTITIES, 1);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
  project.provide('gpumarketTemplate', template);
  project.provide('gpumarketRunId', runId);

  return async () => {
    const client = new pg.Client({ connectionString: ADMIN_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname LIKE $1',
        [`${DATABASE_PREFIX}${runId}\\_%`],
      );
      await dropDatabases(
        client,
        rows.map((r) => r.datname),
      );
    } finally {
      await client.end();
    }
  };
}
