import { ValidationFailedError } from '../errors/app-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The `nextCursor` of a list sorted newest first by (time, id): the time of the page's last row,
 * as the database wrote it (pass `created_at::text` to keep its microseconds), and its id.
 * Opaque to clients; a cursor the API did not write is a 400 naming `cursor`.
 */
export function encodeKeysetCursor(time: string, id: string): string {
  return Buffer.from(`${time}|${id}`).toString('base64url');
}

export function decodeKeysetCursor(cursor: string): { time: string; id: string } {
  const [time, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!time || Number.isNaN(Date.parse(time)) || !id || !UUID.test(id)) {
    throw new ValidationFailedError([
      { field: 'cursor', rule: 'is_cursor', message: 'cursor must be a nextCursor returned by this API' },
    ]);
  }
  return { time, id };
}
