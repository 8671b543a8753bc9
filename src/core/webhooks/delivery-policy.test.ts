import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterFailure, JITTER, retryDelayMs, shouldDisable } from './delivery-policy.js';

const policy = { baseMs: 5_000, maxMs: 3_600_000, windowMs: 86_400_000 };
const middle = () => 0.5;

describe('retryDelayMs', () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [10, 2_560_000],
    [11, 3_600_000],
    [50, 3_600_000],
  ])('after %i failures waits %i ms at the middle of the jitter', (failures, expected) => {
    expect(retryDelayMs(failures, policy, middle)).toBe(expected);
  });

  it('stays within the jitter band around the capped exponential, whatever the random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (failures, draw) => {
          const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 40));
          const delay = retryDelayMs(failures, policy, () => draw);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(nominal * (1 - JITTER)));
          expect(delay).toBeLessThanOrEqual(Math.ceil(nominal * (1 + JITTER)));
        },
      ),
    );
  });

  it('spreads the retries of one outage instead of sending them together', () => {
    const draws = [0, 0.25, 0.5, 0.75, 0.99];
    const delays = new Set(draws.map((d) => retryDelayMs(3, policy, () => d)));
    expect(delays.size).toBe(draws.length);
  });
});

describe('afterFailure', () => {
  it('schedules the next attempt while the window is open', () => {
    expect(afterFailure({ now: 1_000, createdAt: 0, failedAttempts: 1 }, policy, middle)).toEqual({
      kind: 'retry',
      at: 6_000,
    });
  });

  it('pulls the last retry in to the end of the window', () => {
    const createdAt = 0;
    const now = policy.windowMs - 60_000;
    expect(afterFailure({ now, createdAt, failedAttempts: 20 }, policy, middle)).toEqual({
      kind: 'retry',
      at: policy.windowMs,
    });
  });

  it('gives up once the window is over', () => {
    expect(afterFailure({ now: policy.windowMs, createdAt: 0, failedAttempts: 30 }, policy, middle)).toEqual({
      kind: 'give_up',
    });
  });

  it('never schedules past the window and always moves forward', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: policy.windowMs - 1 }),
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (now, failures, draw) => {
          const step = afterFailure({ now, createdAt: 0, failedAttempts: failures }, policy, () => draw);
          expect(step.kind).toBe('retry');
          if (step.kind === 'retry') {
            expect(step.at).toBeGreaterThan(now);
            expect(step.at).toBeLessThanOrEqual(policy.windowMs);
          }
        },
      ),
    );
  });

  it('makes about 30 attempts over a day with the default policy', () => {
    let now = 0;
    let attempts = 1;
    for (;;) {
      const step = afterFailure({ now, createdAt: 0, failedAttempts: attempts }, policy, middle);
      if (step.kind === 'give_up') break;
      now = step.at;
      attempts++;
    }
    expect(attempts).toBeGreaterThanOrEqual(25);
    expect(attempts).toBeLessThanOrEqual(40);
  });
});

describe('shouldDisable', () => {
  const disable = { afterFailures: 20, afterMs: 3 * 86_400_000 };
  it.each([
    ['a long streak of many failures', { failures: 20, since: 0 }, 3 * 86_400_000, true],
    ['many failures in a short burst', { failures: 500, since: 0 }, 3_600_000, false],
    ['few failures spread over days', { failures: 3, since: 0 }, 10 * 86_400_000, false],
  ])('%s: %s', (_name, streak, now, expected) => {
    expect(shouldDisable(streak, now, disable)).toBe(expected);
  });
});
