import { Logger as NestLogger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';

/**
 * TypeORM's own loggers print a failed query with its parameters, and the parameters of an
 * INSERT into api_keys include the key's hash (of webhooks, a sealed secret). This one prints the
 * query text (placeholders only), the error's code and its message with any parameter value it
 * quotes redacted; never the parameters, never the error's `detail` (a unique violation's detail
 * quotes the duplicate value).
 */
export class RedactingQueryLogger implements TypeOrmLogger {
  constructor(private readonly logger: Pick<NestLogger, 'error' | 'warn'> = new NestLogger('Database')) {}

  logQuery(): void {}

  logQueryError(error: string | Error, query: string, parameters?: unknown): void {
    const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
    const message = redactParameters(typeof error === 'string' ? error : error.message, parameters);
    this.logger.error(`query failed${typeof code === 'string' ? ` (${code})` : ''}: ${message} -- ${clip(query)}`);
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn(`query took ${time} ms: ${clip(query)}`);
  }

  // As with `logging: ['error']` before: migrations report themselves through the CLI and the
  // service's start-up, not line by line.
  logSchemaBuild(): void {}

  logMigration(): void {}

  log(): void {}
}

const MAX_QUERY_CHARS = 2000;

function clip(query: string): string {
  const oneLine = query.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_QUERY_CHARS ? `${oneLine.slice(0, MAX_QUERY_CHARS)}…` : oneLine;
}

/** Shorter values are too common to redact without mangling the message (`1`, `true`). */
const MIN_REDACTED_LENGTH = 4;

/**
 * Replaces every parameter value that a database message quotes (PostgreSQL quotes the input in
 * `invalid input syntax for type uuid: "…"`) with its placeholder, `$1`, `$2`, …. Strings inside
 * array and JSON parameters are redacted too.
 */
export function redactParameters(text: string, parameters: unknown): string {
  if (!Array.isArray(parameters)) return text;
  const values: Array<{ text: string; placeholder: string }> = [];
  parameters.forEach((value, index) => {
    for (const leaf of leavesOf(value))
      if (leaf.length >= MIN_REDACTED_LENGTH) values.push({ text: leaf, placeholder: `$${index + 1}` });
  });
  // The longest first, so that a value containing another is redacted whole.
  values.sort((a, b) => b.text.length - a.text.length);
  let redacted = text;
  for (const value of values) redacted = redacted.split(value.text).join(value.placeholder);
  return redacted;
}

function leavesOf(value: unknown): string[] {
  const leaves: string[] = [];
  const stack: unknown[] = [value];
  // Bounded: a log line is not worth walking a huge parameter for.
  for (let seen = 0; stack.length > 0 && seen < 10_000; seen++) {
    const current = stack.pop();
    if (typeof current === 'string') leaves.push(current);
    else if (typeof current === 'number' || typeof current === 'bigint') leaves.push(String(current));
    else if (Array.isArray(current)) for (const item of current) stack.push(item);
    else if (
      current !== null &&
      typeof current === 'object' &&
      !Buffer.isBuffer(current) &&
      !(current instanceof Date)
    ) {
      for (const item of Object.values(current)) stack.push(item);
    }
  }
  return leaves;
}
