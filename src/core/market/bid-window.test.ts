import { describe, expect, it } from 'vitest';
import { checkWindow, latestStart, requeueFailedBid, requeuePreemptedBid, RequeueError } from './bid-window.js';

const window = { notBefore: 1000, deadline: 1000 + 24 * 3600 };
const fourHours = 4 * 3600;

describe('checkWindow', () => {
  it.each([
    ['no window: always eligible', null, fourHours, 0, { eligible: true }],
    ['before notBefore', window, fourHours, 999, { eligible: false, reason: 'not_yet_open' }],
    ['at notBefore', window, fourHours, 1000, { eligible: true }],
    ['last moment that still fits', window, fourHours, window.deadline - fourHours, { eligible: true }],
    [
      'one second too late',
      window,
      fourHours,
      window.deadline - fourHours + 1,
      { eligible: false, reason: 'window_closed' },
    ],
    ['run time longer than the whole window', window, 25 * 3600, 0, { eligible: false, reason: 'window_closed' }],
  ] as const)('%s', (_name, w, remaining, now, expected) => {
    expect(checkWindow(w, remaining, now)).toEqual(expected);
  });

  it('gives the latest start time that still meets the deadline', () => {
    expect(latestStart(window, fourHours)).toBe(window.deadline - fourHours);
    expect(latestStart(null, fourHours)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('requeuePreemptedBid', () => {
  it('returns a preempted bid to open with the run time it still needs', () => {
    expect(requeuePreemptedBid({ preemptible: true, remainingSeconds: fourHours, window }, 3600, 5000)).toEqual({
      state: 'open',
      remainingSeconds: 3 * 3600,
    });
  });

  it('expires it with window_closed when its remaining run time no longer fits', () => {
    const now = window.deadline - 3600;
    expect(requeuePreemptedBid({ preemptible: true, remainingSeconds: fourHours, window }, 3600, now)).toEqual({
      state: 'expired',
      reason: 'window_closed',
      remainingSeconds: 3 * 3600,
    });
  });

  it('keeps a bid without a window open however late it is', () => {
    expect(requeuePreemptedBid({ preemptible: true, remainingSeconds: 100, window: null }, 40, 1e12)).toEqual({
      state: 'open',
      remainingSeconds: 60,
    });
  });

  it('counts a bid whose run time was all delivered as completed', () => {
    expect(requeuePreemptedBid({ preemptible: true, remainingSeconds: 100, window }, 100, 2000).state).toBe(
      'completed',
    );
  });

  it('refuses to requeue a non-preemptible bid', () => {
    expect(() => requeuePreemptedBid({ preemptible: false, remainingSeconds: 100, window: null }, 10, 0)).toThrow(
      RequeueError,
    );
  });
});

describe('requeueFailedBid', () => {
  it.each([
    [
      'reopens with the run time still needed, preemptible or not',
      { remainingSeconds: fourHours, window },
      3600,
      5000,
      1,
      { state: 'open', remainingSeconds: 3 * 3600 },
    ],
    [
      'reopens a bid without a window whatever the time',
      { remainingSeconds: 100, window: null },
      40,
      1e12,
      2,
      { state: 'open', remainingSeconds: 60 },
    ],
    [
      'expires it when the window can no longer fit the rest',
      { remainingSeconds: fourHours, window },
      0,
      window.deadline - fourHours + 1,
      1,
      { state: 'expired', reason: 'window_closed', remainingSeconds: fourHours },
    ],
    [
      'fails it at the cap of failures, with the reason',
      { remainingSeconds: fourHours, window: null },
      0,
      5000,
      3,
      { state: 'failed', reason: 'too_many_failures', remainingSeconds: fourHours },
    ],
    [
      'completes it when the failed lease had already run it all',
      { remainingSeconds: 100, window },
      100,
      2000,
      3,
      { state: 'completed', remainingSeconds: 0 },
    ],
  ] as const)('%s', (_name, bid, ran, now, failures, expected) => {
    expect(requeueFailedBid(bid, ran, now, failures, 3)).toEqual(expected);
  });

  it('refuses a negative run time', () => {
    expect(() => requeueFailedBid({ remainingSeconds: 100, window: null }, -1, 0, 1, 3)).toThrow(RequeueError);
  });
});
