import { describe, expect, it } from 'vitest';
import { bucketStart, MAX_BUCKETS, resolveRange, type Bucket } from './report-range.js';

const at = (iso: string) => new Date(iso);

describe('bucketStart', () => {
  it.each<[string, Bucket, string]>([
    ['2026-11-22T10:17:45.500Z', '1m', '2026-11-22T10:17:00.000Z'],
    ['2026-11-22T10:17:45.500Z', '1h', '2026-11-22T10:00:00.000Z'],
    ['2026-11-22T10:17:45.500Z', '1d', '2026-11-22T00:00:00.000Z'],
    ['2026-11-22T00:00:00.000Z', '1d', '2026-11-22T00:00:00.000Z'],
    ['2026-11-21T23:59:59.999Z', '1d', '2026-11-21T00:00:00.000Z'],
    ['2026-11-22T10:00:00.000Z', '1h', '2026-11-22T10:00:00.000Z'],
  ])('puts %s into the %s bucket starting %s (UTC boundaries)', (instant, bucket, start) => {
    expect(bucketStart(at(instant), bucket).toISOString()).toBe(start);
  });
});

describe('resolveRange', () => {
  const now = at('2026-11-22T12:00:00Z');

  it('defaults to the day before now', () => {
    const { range, problems } = resolveRange({}, now, 31);
    expect(problems).toEqual([]);
    expect(range).toEqual({ from: at('2026-11-21T12:00:00Z'), to: now });
  });

  it('defaults a missing from to one day before the given to', () => {
    expect(resolveRange({ to: at('2026-11-10T00:00:00Z') }, now, 31).range.from).toEqual(at('2026-11-09T00:00:00Z'));
  });

  it.each([
    ['equal ends', '2026-11-20T00:00:00Z', '2026-11-20T00:00:00Z', 'after_from'],
    ['to before from', '2026-11-21T00:00:00Z', '2026-11-20T00:00:00Z', 'after_from'],
    ['a span one millisecond past the limit', '2026-11-01T00:00:00Z', '2026-11-08T00:00:00.001Z', 'max_span'],
  ])('refuses %s', (_name, from, to, rule) => {
    expect(resolveRange({ from: at(from), to: at(to) }, now, 7).problems.map((p) => p.rule)).toEqual([rule]);
  });

  it('accepts a span of exactly the limit', () => {
    expect(resolveRange({ from: at('2026-11-01T00:00:00Z'), to: at('2026-11-08T00:00:00Z') }, now, 7).problems).toEqual(
      [],
    );
  });

  it('refuses minute buckets over a range that would hold more than the bucket limit, and accepts hours over it', () => {
    const from = at('2026-11-01T00:00:00Z');
    const to = new Date(from.getTime() + (MAX_BUCKETS + 1) * 60_000);
    expect(resolveRange({ from, to, bucket: '1m' }, now, 31).problems.map((p) => p.rule)).toEqual(['too_many_buckets']);
    expect(
      resolveRange({ from, to: new Date(from.getTime() + MAX_BUCKETS * 60_000), bucket: '1m' }, now, 31).problems,
    ).toEqual([]);
    expect(resolveRange({ from, to, bucket: '1h' }, now, 31).problems).toEqual([]);
  });
});
