import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LEASE_TIMING,
  ENDED_LEASE_STATES,
  LEASE_STATES,
  LIVE_LEASE_STATES,
  dueEvent,
  newLease,
  noticeStopEvent,
  ranSeconds,
  transition,
  type Lease,
  type LeaseEvent,
  type LeaseState,
} from './lease-lifecycle.js';

const base = newLease({ id: 'l-1', bidId: 'b-1', preemptible: true, runtimeSeconds: 3600, allocatedAt: 0 });

function inState(state: LeaseState, over: Partial<Lease> = {}): Lease {
  const timing = state === 'allocated' ? {} : { startedAt: 100, protectedUntil: 700 };
  const notice = state === 'preempting' ? { noticeEndsAt: 1120 } : {};
  return { ...base, state, ...timing, ...notice, ...over };
}

const events: Record<LeaseEvent['type'], LeaseEvent> = {
  start: { type: 'start', at: 100 },
  complete: { type: 'complete', at: 3700 },
  preempt: { type: 'preempt', at: 1000 },
  notice_elapsed: { type: 'notice_elapsed', at: 1120 },
  stopped: { type: 'stopped', at: 1050 },
  win_back: { type: 'win_back', at: 1060 },
  cancel: { type: 'cancel', at: 1010 },
  fail: { type: 'fail', at: 900, reason: 'adapter_error' },
};

// Every (state, event) pair: the state it leads to, or null where it is refused.
const table: [LeaseState, LeaseEvent['type'], LeaseState | null][] = [
  ['allocated', 'start', 'running'],
  ['allocated', 'complete', null],
  ['allocated', 'preempt', null],
  ['allocated', 'notice_elapsed', null],
  ['allocated', 'stopped', null],
  ['allocated', 'win_back', null],
  ['allocated', 'cancel', 'cancelled'],
  ['allocated', 'fail', 'failed'],
  ['running', 'start', null],
  ['running', 'complete', 'completed'],
  ['running', 'preempt', 'preempting'],
  ['running', 'notice_elapsed', null],
  ['running', 'stopped', null],
  ['running', 'win_back', null],
  ['running', 'cancel', 'cancelled'],
  ['running', 'fail', 'failed'],
  ['preempting', 'start', null],
  ['preempting', 'complete', 'completed'],
  ['preempting', 'preempt', null],
  ['preempting', 'notice_elapsed', 'preempted'],
  ['preempting', 'stopped', 'preempted'],
  ['preempting', 'win_back', 'running'],
  ['preempting', 'cancel', 'cancelled'],
  ['preempting', 'fail', 'failed'],
  ...ENDED_LEASE_STATES.flatMap((state) =>
    (Object.keys(events) as LeaseEvent['type'][]).map((e): [LeaseState, LeaseEvent['type'], null] => [state, e, null]),
  ),
];

describe('lease lifecycle transitions', () => {
  it.each(table)('%s + %s -> %s', (from, eventType, to) => {
    const result = transition(inState(from), events[eventType]);
    if (to === null) {
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatchObject({ code: 'illegal_transition', from, event: eventType });
    } else {
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.lease.state).toBe(to);
    }
  });

  it('protects a started lease for minHoldSeconds (default 600) from preemption', () => {
    const started = transition(base, { type: 'start', at: 1000 });
    expect(started.ok && started.lease.protectedUntil).toBe(1600);
    if (!started.ok) return;
    const early = transition(started.lease, { type: 'preempt', at: 1599 });
    expect(early.ok ? null : early.error.code).toBe('protected');
    const onTime = transition(started.lease, { type: 'preempt', at: 1600 });
    expect(onTime.ok && onTime.lease.noticeEndsAt).toBe(1600 + DEFAULT_LEASE_TIMING.preemptionNoticeSeconds);
  });

  it('keeps a protection promised at allocation when it runs past start + minHoldSeconds, as the service does', () => {
    const promised = newLease({
      id: 'l-2',
      bidId: 'b-2',
      preemptible: true,
      runtimeSeconds: 3600,
      allocatedAt: 900,
      protectedUntil: 2000,
    });
    expect(promised.protectedUntil).toBe(2000);
    const started = transition(promised, { type: 'start', at: 1000 });
    expect(started.ok && started.lease.protectedUntil).toBe(2000);
    const late = transition({ ...promised, protectedUntil: 1200 }, { type: 'start', at: 1000 });
    expect(late.ok && late.lease.protectedUntil).toBe(1600);
  });

  it('refuses to preempt a non-preemptible lease, protected or not', () => {
    const result = transition(inState('running', { preemptible: false, protectedUntil: 0 }), {
      type: 'preempt',
      at: 5000,
    });
    expect(result.ok ? null : result.error.code).toBe('not_preemptible');
  });

  it('does not stop a preempting lease before its notice ends', () => {
    const result = transition(inState('preempting'), { type: 'notice_elapsed', at: 1119 });
    expect(result.ok ? null : result.error.code).toBe('notice_not_over');
  });

  it('a lease that wins its place back keeps running and loses its notice', () => {
    const result = transition(inState('preempting'), events.win_back);
    expect(result.ok && result.lease).toMatchObject({ state: 'running', noticeEndsAt: null, startedAt: 100 });
  });

  it('honours custom timing parameters', () => {
    const params = { minHoldSeconds: 60, preemptionNoticeSeconds: 30 };
    const started = transition(base, { type: 'start', at: 0 }, params);
    if (!started.ok) throw new Error('start refused');
    expect(started.lease.protectedUntil).toBe(60);
    const preempting = transition(started.lease, { type: 'preempt', at: 60 }, params);
    expect(preempting.ok && preempting.lease.noticeEndsAt).toBe(90);
  });

  it('leaves the input lease unchanged', () => {
    const lease = inState('running');
    const copy = structuredClone(lease);
    transition(lease, events.preempt);
    expect(lease).toEqual(copy);
  });

  it('records the end time and reason of an ended lease, and counts run time up to it', () => {
    const failed = transition(inState('running'), events.fail);
    expect(failed.ok && failed.lease).toMatchObject({ state: 'failed', endedAt: 900, endReason: 'adapter_error' });
    if (failed.ok) expect(ranSeconds(failed.lease, 5000)).toBe(800);
  });
});

describe('states', () => {
  it('every state is live or ended, never both', () => {
    expect([...LIVE_LEASE_STATES, ...ENDED_LEASE_STATES].sort()).toEqual([...LEASE_STATES].sort());
  });

  it('a cancelled lease ends cancelled at the cancel, and is terminal', () => {
    const cancelled = transition(inState('running'), events.cancel);
    expect(cancelled.ok && cancelled.lease).toMatchObject({
      state: 'cancelled',
      endedAt: 1010,
      endReason: 'cancelled',
    });
    if (cancelled.ok) expect(ranSeconds(cancelled.lease, 5000)).toBe(910);
  });
});

describe('a stop confirmed during a notice', () => {
  // Notice from 1000 to 1120 (inState: started at 100, run time 3600).
  it('ends the lease preempted at the confirmed stop when it comes before the notice ends', () => {
    const event = noticeStopEvent(inState('preempting'), 1041);
    expect(event).toEqual({ type: 'stopped', at: 1041 });
    const ended = transition(inState('preempting'), event!);
    expect(ended.ok && ended.lease).toMatchObject({
      state: 'preempted',
      endedAt: 1041,
      endReason: 'stopped_on_notice',
    });
  });

  it('ends it at the notice end when the stop is confirmed after it (the workload ignored the notice)', () => {
    expect(noticeStopEvent(inState('preempting'), 1180)).toEqual({ type: 'notice_elapsed', at: 1120 });
    const late = transition(inState('preempting'), { type: 'stopped', at: 1180 });
    expect(late.ok && late.lease).toMatchObject({ state: 'preempted', endedAt: 1120, endReason: 'preempted' });
  });

  it('completes it when its run time ended before the stop', () => {
    expect(noticeStopEvent(inState('preempting', { runtimeSeconds: 920 }), 1041)).toEqual({
      type: 'complete',
      at: 1020,
      reason: 'runtime_reached',
    });
  });

  it('is nothing for a lease not in its notice', () => {
    expect(noticeStopEvent(inState('running'), 1041)).toBeNull();
  });

  it('never bills past the notice end nor past the stop, whichever comes first', () => {
    for (let at = 1000; at <= 1300; at += 7) {
      const event = noticeStopEvent(inState('preempting'), at)!;
      const ended = transition(inState('preempting'), event);
      expect(ended.ok && ended.lease.endedAt).toBe(Math.min(at, 1120));
    }
  });
});

describe('dueEvent', () => {
  it('completes a running lease once its run time is reached, at the exact moment', () => {
    expect(dueEvent(inState('running'), 3699)).toBeNull();
    expect(dueEvent(inState('running'), 3800)).toEqual({ type: 'complete', at: 3700, reason: 'runtime_reached' });
  });

  it('ends a notice at its end time', () => {
    expect(dueEvent(inState('preempting'), 1119)).toBeNull();
    expect(dueEvent(inState('preempting'), 1200)).toEqual({ type: 'notice_elapsed', at: 1120 });
  });

  it('prefers completion when the work finishes during the notice', () => {
    const lease = inState('preempting', { runtimeSeconds: 1000 });
    expect(dueEvent(lease, 1200)).toEqual({ type: 'complete', at: 1100, reason: 'runtime_reached' });
  });

  it('has nothing due for an allocated lease', () => {
    expect(dueEvent(inState('allocated'), 1e9)).toBeNull();
  });
});
