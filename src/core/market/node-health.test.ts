import { describe, expect, it } from 'vitest';
import {
  blockedGpus,
  fencedLeaseEnd,
  heartbeatIntervalSeconds,
  nodeHealth,
  startTimedOut,
  startTimeoutReason,
} from './node-health.js';

const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s));

describe('node health', () => {
  it.each([
    ['never heard from', null, 100, false, 'never_seen'],
    ['heard from 44 s ago', at(56), 100, false, 'ok'],
    ['silent for exactly the limit', at(55), 100, false, 'unreachable'],
    ['silent past the limit', at(0), 100, false, 'unreachable'],
    ['fenced, heard from since the clock says ok', at(99), 100, true, 'unreachable'],
    ['fenced but never heard from is still never_seen', null, 100, true, 'never_seen'],
  ] as const)('%s', (_name, last, now, fenced, expected) => {
    expect(nodeHealth(last, at(now), 45, fenced)).toBe(expected);
  });

  it('asks agents for three beats within the unreachable limit, at most every 15 s', () => {
    expect(heartbeatIntervalSeconds(45)).toBe(15);
    expect(heartbeatIntervalSeconds(600)).toBe(15);
    expect(heartbeatIntervalSeconds(6)).toBe(2);
    expect(heartbeatIntervalSeconds(1)).toBe(1);
  });

  it('ends a fenced lease at the last heartbeat, not before its start nor after now', () => {
    expect(fencedLeaseEnd(at(10), at(5), at(60))).toEqual(at(10));
    expect(fencedLeaseEnd(at(10), at(20), at(60))).toEqual(at(20));
    expect(fencedLeaseEnd(at(10), null, at(60))).toEqual(at(10));
    expect(fencedLeaseEnd(at(70), null, at(60))).toEqual(at(60));
  });

  it.each([
    ['a healthy node sells all its free GPUs', { gpus: 8, usedByLeases: 2, sellable: true, stuck: 0, unusable: 0 }, 0],
    ['an unusable GPU is not sold', { gpus: 8, usedByLeases: 0, sellable: true, stuck: 0, unusable: 1 }, 1],
    ['unusable and stuck GPUs add up', { gpus: 8, usedByLeases: 0, sellable: true, stuck: 2, unusable: 1 }, 3],
    ['never more than the free GPUs', { gpus: 8, usedByLeases: 7, sellable: true, stuck: 2, unusable: 1 }, 1],
    ['an unreachable node sells nothing', { gpus: 8, usedByLeases: 2, sellable: false, stuck: 0, unusable: 0 }, 6],
  ])('%s', (_name, node, expected) => {
    expect(blockedGpus(node)).toBe(expected);
  });
});

describe('start timeout', () => {
  it('times out once the limit has passed since placement', () => {
    expect(startTimedOut(at(0), at(599), 600)).toBe(false);
    expect(startTimedOut(at(0), at(600), 600)).toBe(true);
  });

  it("names the platform's own reason when it gave one", () => {
    expect(startTimeoutReason(600, 'Resources', 'pending')).toBe(
      'start_timeout: not running 600 s after placement: Resources',
    );
    expect(startTimeoutReason(600, undefined, 'pending')).toBe(
      'start_timeout: not running 600 s after placement (workload pending)',
    );
    expect(startTimeoutReason(600, '  ', undefined)).toBe('start_timeout: not running 600 s after placement');
  });
});
