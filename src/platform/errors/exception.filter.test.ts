import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { respondWithError } from './exception.filter.js';

const HASH = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

afterEach(() => vi.restoreAllMocks());

describe('respondWithError', () => {
  it('logs an unexpected database error without the values its query was given, and reveals nothing', () => {
    const logged: string[] = [];
    vi.spyOn(Logger.prototype, 'error').mockImplementation(
      (...args: unknown[]) => void logged.push(args.map(String).join(' ')),
    );
    // What TypeORM's QueryFailedError carries: the query, its parameters, a message quoting one.
    const error = Object.assign(new Error(`invalid input syntax for type uuid: "${HASH}"`), {
      query: 'SELECT $1::uuid',
      parameters: [HASH],
    });
    const response = { status: vi.fn().mockReturnThis(), json: vi.fn() };
    respondWithError(error, { method: 'GET', originalUrl: '/v1/x' } as Request, response as unknown as Response);
    expect(response.status).toHaveBeenCalledWith(500);
    expect(response.json).toHaveBeenCalledWith(
      expect.objectContaining({ error: 'internal_error', message: 'internal error' }),
    );
    expect(logged.join('\n')).toContain('invalid input syntax for type uuid: "$1"');
    expect(logged.join('\n')).not.toContain(HASH);
  });
});
