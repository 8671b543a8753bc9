import { describe, expect, it } from 'vitest';
import { bidBodyFromFlags, parseDuration, parseEnv, parseInstant, parseOffer } from './tenant-args.js';
import { ApiError, exitCodeOf, NetworkError, UsageError } from './tenant-errors.js';

const now = new Date('2026-12-06T12:00:00.000Z');

describe('tenant CLI flags', () => {
  it.each([
    ['4', 14_400],
    ['1.5', 5400],
    ['4h', 14_400],
    ['90m', 5400],
    ['1h30m', 5400],
    ['2d', 172_800],
    ['45s', 45],
  ])('reads the run time %s as %i seconds', (text, seconds) => {
    expect(parseDuration(text, '--runtime')).toBe(seconds);
  });

  it.each(['', 'four hours', '4x', '1.0000001', '-2h'])('refuses the run time %j, naming the flag', (text) => {
    expect(() => parseDuration(text, '--runtime')).toThrow(UsageError);
    expect(() => parseDuration(text, '--runtime')).toThrow(/--runtime/);
  });

  it('reads an instant as ISO 8601 or as a duration from now, forward for deadlines and back for ranges', () => {
    expect(parseInstant('2026-12-07T10:00:00+01:00', '--deadline', now, 1)).toBe('2026-12-07T09:00:00.000Z');
    expect(parseInstant('24h', '--deadline', now, 1)).toBe('2026-12-07T12:00:00.000Z');
    expect(parseInstant('+90m', '--deadline', now, 1)).toBe('2026-12-06T13:30:00.000Z');
    expect(parseInstant('7d', '--from', now, -1)).toBe('2026-11-29T12:00:00.000Z');
    // A bare number has no unit to go by: an instant wants one.
    expect(() => parseInstant('24', '--deadline', now, 1)).toThrow(/--deadline 24: expected an ISO 8601 instant/);
    expect(() => parseInstant('2026-13-45', '--deadline', now, 1)).toThrow(/not a valid ISO 8601/);
  });

  it('keeps an offer price as the decimal string typed, never a float', () => {
    expect(parseOffer('H100-SXM-80GB=2.10')).toEqual({ gpuModel: 'H100-SXM-80GB', maxPrice: '2.10' });
    expect(() => parseOffer('H100-SXM-80GB')).toThrow(/--offer H100-SXM-80GB: expected MODEL=PRICE/);
    expect(() => parseOffer('H100=two')).toThrow(UsageError);
    expect(() => parseOffer('=2.5')).toThrow(UsageError);
  });

  it('splits --env on the first = only', () => {
    expect(parseEnv(['A=1', 'URL=http://x/?a=b'])).toEqual({ A: '1', URL: 'http://x/?a=b' });
    expect(() => parseEnv(['=1'])).toThrow(/--env =1/);
  });

  it('builds the POST /v1/bids body the DTO expects from every flag', () => {
    const body = bidBodyFromFlags(
      {
        gpus: '8',
        offer: ['H100-SXM-80GB=2.50', 'A100-SXM-80GB=1.80'],
        contiguity: 'nvlink',
        preemptible: true,
        runtime: '4h',
        deadline: '24h',
        'not-before': '2026-12-06T13:00:00Z',
        region: ['eu-west', 'us-east'],
        compliance: ['soc2'],
        'min-gpu-memory': '80',
        image: 'pytorch:24.10',
        env: ['EPOCHS=3'],
      },
      ['python', 'train.py', '--name', 'a b'],
      now,
    );
    expect(body).toEqual({
      gpus: 8,
      offers: [
        { gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' },
        { gpuModel: 'A100-SXM-80GB', maxPrice: '1.80' },
      ],
      contiguity: 'nvlink',
      preemptible: true,
      runtimeSeconds: 14_400,
      window: { deadline: '2026-12-07T12:00:00.000Z', notBefore: '2026-12-06T13:00:00.000Z' },
      regions: ['eu-west', 'us-east'],
      compliance: ['soc2'],
      minGpuMemoryGb: 80,
      workload: { image: 'pytorch:24.10', command: ['python', 'train.py', '--name', 'a b'], env: { EPOCHS: '3' } },
    });
  });

  it('defaults to node contiguity, not preemptible, no window, an empty workload; --window-deadline is --deadline', () => {
    const minimal = bidBodyFromFlags({ gpus: '1', offer: ['L4=0.5'], runtime: '90m' }, [], now);
    expect(minimal).toEqual({
      gpus: 1,
      offers: [{ gpuModel: 'L4', maxPrice: '0.5' }],
      contiguity: 'node',
      preemptible: false,
      runtimeSeconds: 5400,
      workload: {},
    });
    const windowed = bidBodyFromFlags(
      { gpus: '1', offer: ['L4=0.5'], runtime: '1', 'window-deadline': '2d', command: 'nvidia-smi -L' },
      [],
      now,
    );
    expect(windowed).toMatchObject({
      window: { deadline: '2026-12-08T12:00:00.000Z' },
      workload: { command: ['nvidia-smi', '-L'] },
    });
  });

  it('names every missing or malformed flag before anything is sent', () => {
    expect(() => bidBodyFromFlags({}, [], now)).toThrow('missing --gpus, --runtime, --offer');
    expect(() => bidBodyFromFlags({ gpus: '8', offer: ['X=1'], runtime: '1h', contiguity: 'any' }, [], now)).toThrow(
      '--contiguity any: expected one of node, nvlink, block, none',
    );
    expect(() => bidBodyFromFlags({ gpus: 'eight', offer: ['X=1'], runtime: '1h' }, [], now)).toThrow(
      '--gpus eight: expected a whole number',
    );
    expect(() => bidBodyFromFlags({ gpus: '8', offer: ['X=1'], runtime: '1h', 'not-before': '1h' }, [], now)).toThrow(
      '--not-before needs --deadline',
    );
    expect(() => bidBodyFromFlags({ gpus: '8', offer: ['X=1'], runtime: '1h', command: 'a' }, ['b'], now)).toThrow(
      /either with --command or after --/,
    );
  });
});

describe('tenant CLI exit codes', () => {
  it.each([
    [new UsageError('x'), 2],
    [new ApiError(400, { error: 'validation_failed' }), 3],
    [new ApiError(409, { error: 'bid_already_finished' }), 3],
    [new ApiError(401, {}), 4],
    [new ApiError(403, {}), 4],
    [new ApiError(404, {}), 5],
    [new ApiError(503, {}), 6],
    [new NetworkError('refused'), 6],
    [new ApiError(500, {}), 1],
    [new Error('bug'), 1],
  ])('%s exits %i', (error, code) => {
    expect(exitCodeOf(error)).toBe(code);
  });
});
