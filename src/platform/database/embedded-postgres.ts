import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * An embedded PostgreSQL for running without a database server: PGlite (Postgres compiled to
 * WASM) with its data under `dataDir`, served on a loopback port by pglite-socket so that the
 * ordinary `pg` driver and TypeORM talk to it exactly as to a real server.
 *
 * PGlite is a single session: it runs one transaction at a time, and a query from a second
 * connection waits while a transaction is open. So the pool on top of it must hold ONE
 * connection, and code inside a transaction must use the transaction's own manager (see
 * environment.md). Only one process may open a data directory; a pid file guards it.
 */
export interface EmbeddedPostgres {
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export class DataDirInUseError extends Error {}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function claimDataDir(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const pidFile = join(dataDir, 'gpumarket.pid');
  const owner = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new DataDirInUseError(
      `DATA_DIR ${dataDir} is in use by process ${owner}; stop it or set DATA_DIR or DATABASE_URL`,
    );
  }
  await writeFile(pidFile, String(process.pid));
  return pidFile;
}

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const pidFile = await claimDataDir(dataDir);
  const db = await PGlite.create(join(dataDir, 'pglite'));
  // A few connections are allowed so a reconnecting pool is never refused; the pool itself holds one.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
  await server.start();
  const [host, port] = server.getServerConn().split(':');
  return {
    url: `postgresql://postgres@${host}:${port}/postgres`,
    dataDir,
    async stop() {
      await server.stop();
      await db.close();
      await rm(pidFile, { force: true });
    },
  };
}
