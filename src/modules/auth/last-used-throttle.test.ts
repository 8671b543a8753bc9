import { describe, expect, it } from 'vitest';
import { LastUsedThrottle } from './last-used-throttle.js';

describe('LastUsedThrottle', () => {
  it('writes the first use of a key, then at most one use per interval', () => {
    const throttle = new LastUsedThrottle(60_000);
    const uses: Array<[number, boolean]> = [
      [0, true],
      [1, false],
      [59_999, false],
      [60_000, true],
      [60_001, false],
      [125_000, true],
    ];
    for (const [at, written] of uses) expect(throttle.claim('k1', at), `use at ${at} ms`).toBe(written);
  });

  it('throttles each key on its own', () => {
    const throttle = new LastUsedThrottle(60_000);
    expect(throttle.claim('a', 0)).toBe(true);
    expect(throttle.claim('b', 10)).toBe(true);
    expect(throttle.claim('a', 20)).toBe(false);
    expect(throttle.claim('b', 30)).toBe(false);
  });

  it('tries again after a failed write is released', () => {
    const throttle = new LastUsedThrottle(60_000);
    expect(throttle.claim('a', 0)).toBe(true);
    throttle.release('a');
    expect(throttle.claim('a', 5)).toBe(true);
  });

  it('stays bounded: past maxKeys it forgets, costing at most one extra write per key', () => {
    const throttle = new LastUsedThrottle(60_000, 2);
    expect(throttle.claim('a', 0)).toBe(true);
    expect(throttle.claim('b', 0)).toBe(true);
    expect(throttle.claim('c', 0)).toBe(true);
    expect(throttle.claim('c', 1)).toBe(false);
    expect(throttle.claim('a', 1)).toBe(true);
  });
});
