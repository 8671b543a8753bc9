import { DataSource, type EntitySchema } from 'typeorm';
import type { AppConfig } from '../config/config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { RedactingQueryLogger } from './query-logger.js';
import { loadSqlMigrations } from './sql-migrations.js';
import { join } from 'node:path';

export type EntityList = ReadonlyArray<Function | EntitySchema>;

export interface Database {
  readonly dataSource: DataSource;
  /** True when running on the embedded PGlite. */
  readonly embedded: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  readonly entities: EntityList;
  /** Apply pending migrations before returning (the service does; tools that only read may not). */
  readonly migrate?: boolean;
  readonly poolSize?: number;
}

export function createDataSource(url: string, entities: EntityList, poolSize: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: [...entities],
    migrations: loadSqlMigrations(),
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: ['error'],
    // Never TypeORM's own: it prints a failed query's parameters (an API key's hash among them).
    logger: new RedactingQueryLogger(),
    poolSize,
    extra: { max: poolSize, connectionTimeoutMillis: 10_000 },
  });
}

const MIGRATIONS_LOCK = 'gpumarket:migrations';

/**
 * Applies pending migrations. Replicas that start together on a database a release has not yet
 * migrated would each apply the same migration (and all but one fail), so on a shared database
 * they take turns under a session advisory lock, held on a connection of its own. The embedded
 * database has one process and one connection: no lock there.
 */
async function migrate(dataSource: DataSource, shared: boolean): Promise<void> {
  if (!shared) {
    await dataSource.runMigrations({ transaction: 'each' });
    return;
  }
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [MIGRATIONS_LOCK]);
    try {
      await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [MIGRATIONS_LOCK]);
    }
  } finally {
    await runner.release();
  }
}

/** Connects to DATABASE_URL, or starts the embedded database when it is unset. */
export async function openDatabase(config: AppConfig, options: OpenDatabaseOptions): Promise<Database> {
  let embedded: EmbeddedPostgres | null = null;
  if (config.databaseUrl === null) embedded = await startEmbeddedPostgres(join(config.dataDir, 'postgres'));
  const url = embedded?.url ?? config.databaseUrl!;
  // The embedded database runs one session at a time: one connection, never more.
  const poolSize = embedded ? 1 : (options.poolSize ?? 10);
  const dataSource = createDataSource(url, options.entities, poolSize);
  try {
    await dataSource.initialize();
    if (options.migrate !== false) await migrate(dataSource, embedded === null && poolSize > 1);
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
  return {
    dataSource,
    embedded: embedded !== null,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
