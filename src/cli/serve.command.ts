import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../platform/config/config.js';
import { configHelp } from '../platform/config/config-docs.js';
import { DataDirInUseError } from '../platform/database/embedded-postgres.js';
import { createServer } from '../server.js';

export const usage = `usage: gpumarket serve [--port N]

Starts the HTTP API. Configuration comes from the environment, read and checked at start-up
(a bad value stops the process with exit code 78, naming the variable). Every variable, with its
default where it has one (docs/operations.md has the same list):

${configHelp()}
`;

const DRAIN_MS = 10_000;

/**
 * Stops taking requests and lets those in flight finish before the app (and its database pool)
 * closes: Nest closes its modules before its HTTP server, which would fail in-flight requests.
 */
function drainHttp(http: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => http.closeAllConnections(), DRAIN_MS);
    http.close(() => {
      clearTimeout(force);
      resolve();
    });
    http.closeIdleConnections();
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  let config;
  try {
    config = loadConfig(values.port === undefined ? process.env : { ...process.env, PORT: values.port });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gpumarket: ${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  if (config.databaseUrl === null)
    process.stdout.write(`gpumarket: DATABASE_URL is not set; using the embedded PostgreSQL in ${config.dataDir}\n`);
  let server;
  try {
    server = await createServer(config);
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      process.stderr.write(`gpumarket: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (server.generatedAdminKey) {
    process.stdout.write(
      `\n  Admin API key (shown once; only its hash is stored):\n\n    ${server.generatedAdminKey}\n\n` +
        `  export ADMIN=${server.generatedAdminKey}\n\n`,
    );
  }
  await server.app.listen(config.port, '0.0.0.0');
  const url = `http://localhost:${config.port}`;
  process.stdout.write(`gpumarket: listening on ${url} (API under ${url}/v1, OpenAPI at ${url}/docs)\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`gpumarket: ${signal}, shutting down\n`);
      drainHttp(server.app.getHttpServer())
        .then(() => server.app.close())
        .then(
          () => resolve(0),
          (error: unknown) => {
            process.stderr.write(`gpumarket: shutdown failed: ${String(error)}\n`);
            resolve(1);
          },
        );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
