/**
 * Names of the databases one test run creates. Several runs (and several engineers) share one
 * PostgreSQL, so every name carries the id of the run's main process; a later run drops what a
 * crashed run left behind.
 */
export const ADMIN_DATABASE_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const DATABASE_PREFIX = 'gpumarket_t';

export function templateName(runId: number): string {
  return `${DATABASE_PREFIX}${runId}_template`;
}

export function testDatabaseName(runId: number, suffix: string): string {
  return `${DATABASE_PREFIX}${runId}_${suffix}`;
}

/** The run id in a name made by this file, or null. */
export function runIdOf(name: string): number | null {
  const match = new RegExp(`^${DATABASE_PREFIX}(\\d+)_`).exec(name);
  return match ? Number(match[1]) : null;
}

export function urlFor(database: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${database}`;
  return url.toString();
}
