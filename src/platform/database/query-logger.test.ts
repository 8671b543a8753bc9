import { describe, expect, it } from 'vitest';
import { RedactingQueryLogger, redactParameters } from './query-logger.js';

const HASH = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

function capture() {
  const lines: string[] = [];
  const sink = { error: (m: string) => lines.push(m), warn: (m: string) => lines.push(m) };
  return { lines, logger: new RedactingQueryLogger(sink as never) };
}

describe('RedactingQueryLogger', () => {
  it('logs a failed INSERT with its query and error, never its parameters', () => {
    const { lines, logger } = capture();
    const error = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
      code: '22021',
      detail: `Key (key_hash)=(${HASH})`,
    });
    logger.logQueryError(error, 'INSERT INTO "api_keys"("key_hash", "name") VALUES ($1, $2)', [HASH, 'ci\u0000']);
    expect(lines).toEqual([
      'query failed (22021): invalid byte sequence for encoding "UTF8": 0x00 -- INSERT INTO "api_keys"("key_hash", "name") VALUES ($1, $2)',
    ]);
  });

  it('redacts a parameter that the database quotes in its message', () => {
    const { lines, logger } = capture();
    logger.logQueryError(new Error(`invalid input syntax for type uuid: "${HASH}"`), 'SELECT $1::uuid', [HASH]);
    expect(lines[0]).not.toContain(HASH);
    expect(lines[0]).toContain('invalid input syntax for type uuid: "$1"');
  });
});

describe('redactParameters', () => {
  it.each([
    ['a string parameter', `value "${HASH}"`, [HASH], 'value "$1"'],
    ['a string inside an array or JSON parameter', `x ${HASH} y`, [1, [{ deep: HASH }]], 'x $2 y'],
    ['the longer of two overlapping values first', 'secret-value-long', ['secret', 'secret-value-long'], '$2'],
    ['nothing shorter than 4 characters', 'id 1 of abc', ['1', 'abc'], 'id 1 of abc'],
    ['no parameters', 'plain', undefined, 'plain'],
  ])('redacts %s', (_what, text, parameters, expected) => {
    expect(redactParameters(text, parameters)).toBe(expected);
  });
});
