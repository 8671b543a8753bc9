import { describe, expect, it } from 'vitest';
import { countFlaps, measureService, percentile } from './services-measures.js';
import type { DecisionRecord, ServiceRun } from './services-replay.js';

const S = 1000;
const d = (at: number, from: number, to: number): DecisionRecord => ({
  at: at * S,
  from,
  to,
  reason: to > from ? 'scale_up' : 'scale_down',
});

describe('countFlaps (scale-down delay 60 s: a scale-up within 120 s after a scale-down)', () => {
  it.each([
    { name: 'no decisions', decisions: [], flaps: 0 },
    { name: 'only scale-ups', decisions: [d(0, 0, 1), d(10, 1, 3)], flaps: 0 },
    { name: 'up 120 s after a down', decisions: [d(0, 2, 1), d(120, 1, 2)], flaps: 1 },
    { name: 'up 121 s after a down', decisions: [d(0, 2, 1), d(121, 1, 2)], flaps: 0 },
    { name: 'a down after the up does not count', decisions: [d(0, 1, 2), d(5, 2, 1)], flaps: 0 },
    {
      name: 'down, up, down, up, up: each up measured from the latest down',
      decisions: [d(0, 3, 2), d(60, 2, 3), d(100, 3, 2), d(300, 2, 3), d(310, 3, 4)],
      flaps: 1,
    },
    { name: 'two ups after one down', decisions: [d(0, 2, 1), d(30, 1, 2), d(40, 2, 3)], flaps: 2 },
  ])('$name: $flaps', ({ decisions, flaps }) => {
    expect(countFlaps(decisions, 60)).toBe(flaps);
  });
});

describe('percentile (nearest rank)', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1);
  it.each([
    [50, 50],
    [95, 95],
    [99, 99],
    [100, 100],
    [0, 1],
  ])('p%i of 1..100 is %i', (p, v) => {
    expect(percentile(values, p)).toBe(v);
  });
  it('is null without values', () => {
    expect(percentile([], 50)).toBeNull();
  });
});

describe('measureService', () => {
  const run: ServiceRun = {
    requests: 6,
    latenciesMs: [40_000, 1000, 2000, 30_000],
    rejected503: 1,
    timedOut504: 1,
    leases: [
      { rank: 1, start: 0, end: 1_800_000, limitMicros: 2_000_000, chargeMicroGpuMs: 300_000n * 1_800_000n },
      { rank: 2, start: 0, end: 5_400_000, limitMicros: 1_800_000, chargeMicroGpuMs: 1n },
    ],
    decisions: [],
    coldStarts: [
      { bidAt: 0, leaseStart: 2000, readyAt: 47_000, fromZero: true },
      { bidAt: 10_000, leaseStart: 12_000, readyAt: 67_000, fromZero: false },
    ],
    bidsOutpriced: 0,
    endMs: 5_400_000,
  };
  // A latency of exactly the SLO (30 s) meets it; 40 s misses it.
  it('counts an SLO miss for every 503, 504 and served request slower than the SLO, and sums leases exactly', () => {
    const m = measureService(run, { sloSeconds: 30, scaleDownDelaySeconds: 300, gpusPerReplica: 2 });
    expect(m).toMatchObject({
      gpuHoursPaid: 4,
      served: 4,
      sloMisses: 3,
      sloMissShare: 0.5,
      latencySeconds: { p50: 2, p95: 40, p99: 40 },
      coldStarts: 2,
      coldStartsFromZero: 1,
      coldStartSeconds: { mean: 52, max: 57 },
      marketWaitSeconds: { mean: 2, max: 2 },
      // 0.30 x 0.5 GPU-hour + 1 micro-unit GPU-ms (rounds away).
      cost: '0.150000',
    });
  });
});
