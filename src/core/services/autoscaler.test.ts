import { describe, expect, it } from 'vitest';
import { type ConcurrencySample, decide, type ScalingPolicy, windowMean } from './autoscaler.js';

const policy: ScalingPolicy = {
  minReplicas: 0,
  maxReplicas: 5,
  targetConcurrency: 2,
  scaleDownDelaySeconds: 30,
  scaleToZeroAfterSeconds: 120,
  stableWindowSeconds: 60,
  panicWindowSeconds: 6,
};
const NOW = 1_000_000;

/** One sample a second for the last `seconds` seconds, at a constant concurrency. */
function flat(concurrency: number, seconds = 60, endAgo = 0): ConcurrencySample[] {
  return Array.from({ length: seconds }, (_, i) => ({ at: NOW - endAgo * 1000 - i * 1000, seconds: 1, concurrency }));
}

/** Constant `base` for 60 s, with the last `seconds` at `burst`. */
function burst(base: number, burstLevel: number, seconds: number): ConcurrencySample[] {
  return Array.from({ length: 60 }, (_, i) => ({
    at: NOW - i * 1000,
    seconds: 1,
    concurrency: i < seconds ? burstLevel : base,
  }));
}

describe('windowMean', () => {
  it('weights samples by their length and ignores those outside the window', () => {
    const samples = [
      { at: NOW, seconds: 1, concurrency: 4 },
      { at: NOW - 1000, seconds: 3, concurrency: 0 },
      { at: NOW - 10_000, seconds: 1, concurrency: 100 },
    ];
    expect(windowMean(samples, NOW, 6)).toBe(1);
    expect(windowMean([], NOW, 6)).toBe(0);
  });
});

describe('decide', () => {
  it.each([
    // name, samples, current, pending, lastRequestAgoS, belowSinceAgoS, policy overrides, desired, reason
    ['at zero with nothing: stays at zero', [], 0, 0, null, null, {}, 0, 'steady'],
    ['a held request at zero starts one replica at once', [], 0, 1, 0, null, {}, 1, 'scale_from_zero'],
    ['held requests beyond the target start more', [], 0, 5, 0, null, {}, 3, 'scale_from_zero'],
    ['steady load at the target keeps the count', flat(4), 2, 0, 0, null, {}, 2, 'steady'],
    ['stable load above the target scales up at once', flat(6), 2, 0, 0, null, {}, 3, 'scale_up'],
    [
      'a burst twice the count in the panic window scales up at once',
      burst(2, 8, 6),
      1,
      0,
      0,
      null,
      {},
      4,
      'panic_scale_up',
    ],
    ['a burst below twice the count waits for the stable window', burst(2, 5, 6), 2, 0, 0, null, {}, 2, 'steady'],
    ['never above the maximum', flat(40), 2, 0, 0, null, {}, 5, 'scale_up'],
    ['raised to the minimum', [], 0, 0, null, null, { minReplicas: 2 }, 2, 'raise_to_min'],
    ['lowered to a new maximum', flat(8), 4, 0, 0, null, { maxReplicas: 2 }, 2, 'lower_to_max'],
    ['less load: not down before the delay', flat(2), 3, 0, 0, 10, {}, 3, 'steady'],
    ['less load: one step down after the delay', flat(2), 3, 0, 0, 30, {}, 2, 'scale_down'],
    ['idle but used recently: keeps one', flat(0), 1, 0, 119, 100, {}, 1, 'steady'],
    ['idle past scaleToZeroAfter: to zero', flat(0), 1, 0, 120, null, {}, 0, 'scale_to_zero'],
    ['a minimum of one never goes to zero', flat(0), 1, 0, 1000, 1000, { minReplicas: 1 }, 1, 'steady'],
    ['a request still in flight in the stable window keeps one', flat(0.1, 10), 1, 0, 600, null, {}, 1, 'steady'],
  ] as const)('%s', (_name, samples, current, pending, lastAgo, belowAgo, overrides, desired, reason) => {
    const decision = decide({
      now: NOW,
      policy: { ...policy, ...overrides },
      samples,
      current,
      pending,
      lastRequestAt: lastAgo === null ? null : NOW - lastAgo * 1000,
      belowSince: belowAgo === null ? null : NOW - belowAgo * 1000,
    });
    expect({ desired: decision.desired, reason: decision.reason }).toEqual({ desired, reason });
  });

  it('starts the scale-down delay when load first drops, and restarts it after each step', () => {
    const input = {
      now: NOW,
      policy,
      samples: flat(0.5),
      current: 3,
      pending: 0,
      lastRequestAt: NOW,
      belowSince: null,
    };
    const first = decide(input);
    expect(first).toMatchObject({ desired: 3, belowSince: NOW });
    const later = decide({ ...input, now: NOW + 30_000, samples: flat(0.5, 60, -30), belowSince: first.belowSince });
    expect(later).toMatchObject({ desired: 2, reason: 'scale_down', belowSince: NOW + 30_000 });
    const next = decide({
      ...input,
      now: NOW + 40_000,
      samples: flat(0.5, 60, -40),
      current: 2,
      belowSince: later.belowSince,
    });
    expect(next).toMatchObject({ desired: 2, reason: 'steady' });
  });

  it('forgets the delay when load comes back', () => {
    const decision = decide({
      now: NOW,
      policy,
      samples: flat(4),
      current: 2,
      pending: 0,
      lastRequestAt: NOW,
      belowSince: NOW - 20_000,
    });
    expect(decision.belowSince).toBeNull();
  });

  it('records the inputs it decided on', () => {
    const decision = decide({
      now: NOW,
      policy,
      samples: flat(6),
      current: 2,
      pending: 1,
      lastRequestAt: NOW - 2000,
      belowSince: null,
    });
    expect(decision.inputs).toEqual({
      stableConcurrency: 6,
      panicConcurrency: 6,
      stableWant: 3,
      panicWant: 3,
      panic: false,
      pending: 1,
      idleSeconds: 2,
      floor: 1,
      want: 3,
      belowForSeconds: null,
    });
  });
});
