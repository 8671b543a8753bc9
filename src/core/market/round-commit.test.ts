import { describe, expect, it } from 'vitest';
import { newLease, transition, type Lease } from './lease-lifecycle.js';
import {
  commitRound,
  type CommitLease,
  type CommitNode,
  type CommitState,
  type ProposedLease,
  type SkipReason,
} from './round-commit.js';

const NOW = 10_000;
const PARAMS = { minHoldSeconds: 600, preemptionNoticeSeconds: 120 };

/** A lease that started at 1000 (protected until 1600), in `state`. */
function lifecycle(id: string, state: 'running' | 'preempting' | 'allocated', preemptible = true): Lease {
  let lease = newLease({ id, bidId: `bid-${id}`, preemptible, runtimeSeconds: 36_000, allocatedAt: 900 });
  if (state === 'allocated') return lease;
  lease = (transition(lease, { type: 'start', at: 1000 }, PARAMS) as { lease: Lease }).lease;
  if (state === 'running') return lease;
  return (transition(lease, { type: 'preempt', at: NOW - 60 }, PARAMS) as { lease: Lease }).lease;
}

function live(
  id: string,
  state: 'running' | 'preempting' | 'allocated',
  shares: [string, number][],
  preemptible = true,
) {
  const lease: CommitLease = {
    lease: lifecycle(id, state, preemptible),
    tenantId: `tenant-${id}`,
    shares: shares.map(([nodeId, gpus]) => ({ nodeId, gpus })),
    providers: [...new Set(shares.map(([nodeId]) => `p-${nodeId}`))],
  };
  return lease;
}

function proposal(id: string, shares: [string, number][], bidId = `bid-${id}`): ProposedLease {
  return {
    id,
    bidId,
    gpuModel: 'H100',
    preemptible: true,
    runtimeSeconds: 3600,
    startAfter: NOW,
    protectedUntil: NOW + 600,
    shares: shares.map(([nodeId, gpus]) => ({ nodeId, gpus, provider: `p-${nodeId}` })),
  };
}

/** Nodes n1..n3 of 8 GPUs, all active; `used` and the rest as each case says. */
function state(overrides: Partial<CommitState> & { leaseList?: CommitLease[] } = {}): CommitState {
  const nodes = new Map<string, CommitNode>([
    ['n1', { capacity: 8, active: true }],
    ['n2', { capacity: 8, active: true }],
    ['n3', { capacity: 8, active: true }],
  ]);
  const { leaseList = [], ...rest } = overrides;
  return {
    leases: new Map(leaseList.map((l) => [l.lease.id, l])),
    nodes,
    used: new Map(),
    openBids: new Map([
      ['bid-new', 'tenant-new'],
      ['bid-other', 'tenant-other'],
    ]),
    expiringBids: [],
    ...rest,
  };
}

describe('the commit step: placements checked against the state at commit', () => {
  const cases: Array<{
    name: string;
    state: CommitState;
    shares: [string, number][];
    bidId?: string;
    dropped: SkipReason | null;
  }> = [
    { name: 'a placement that still fits is kept', state: state(), shares: [['n1', 8]], dropped: null },
    {
      name: 'a placement on GPUs taken since the round cleared is dropped',
      state: state({ used: new Map([['n1', 4]]) }),
      shares: [['n1', 8]],
      dropped: 'no_longer_fits',
    },
    {
      name: 'a placement on a node fenced since the round cleared is dropped',
      state: state({
        nodes: new Map([
          ['n1', { capacity: 8, active: false }],
          ['n2', { capacity: 8, active: true }],
        ]),
      }),
      shares: [
        ['n2', 4],
        ['n1', 4],
      ],
      dropped: 'node_not_active',
    },
    {
      name: 'a placement on GPUs a workload the market failed to stop still holds is dropped',
      state: state({ nodes: new Map([['n1', { capacity: 6, active: true }]]) }),
      shares: [['n1', 8]],
      dropped: 'no_longer_fits',
    },
    {
      name: 'a placement on a node that is gone is dropped',
      state: state(),
      shares: [['n9', 1]],
      dropped: 'node_gone',
    },
    {
      name: 'a placement whose bid is no longer open (cancelled meanwhile) is dropped',
      state: state(),
      shares: [['n1', 1]],
      bidId: 'bid-cancelled',
      dropped: 'bid_not_open',
    },
  ];
  it.each(cases)('$name', ({ state: current, shares, bidId = 'bid-new', dropped }) => {
    const placed = proposal('new', shares, bidId);
    const changes = commitRound(current, { notices: [], winBacks: [], newLeases: [placed] }, NOW, PARAMS);
    if (dropped === null) {
      expect(changes.droppedLeases).toEqual([]);
      expect(changes.newLeases.map((l) => [l.proposal.id, l.lease.state, l.tenantId])).toEqual([
        ['new', 'allocated', 'tenant-new'],
      ]);
      expect(changes.events.map((e) => [e.type, e.subjectId])).toEqual([['bid.allocated', 'bid-new']]);
    } else {
      expect(changes.droppedLeases).toEqual([{ proposal: placed, reason: dropped }]);
      expect(changes.newLeases).toEqual([]);
      expect(changes.orders).toEqual([]);
      expect(changes.events).toEqual([]);
    }
  });

  it('takes GPUs in the order the round placed: the second of two placements that no longer both fit is dropped', () => {
    const changes = commitRound(
      state({ used: new Map([['n1', 4]]) }),
      {
        notices: [],
        winBacks: [],
        newLeases: [proposal('a', [['n1', 4]], 'bid-new'), proposal('b', [['n1', 1]], 'bid-other')],
      },
      NOW,
      PARAMS,
    );
    expect(changes.newLeases.map((l) => l.proposal.id)).toEqual(['a']);
    expect(changes.droppedLeases.map((d) => [d.proposal.id, d.reason])).toEqual([['b', 'no_longer_fits']]);
    expect(changes.used.get('n1')).toBe(8);
  });

  it('orders each provider of a new lease to place it, once, when its GPUs are free', () => {
    const placed = {
      ...proposal('new', [
        ['n1', 4],
        ['n2', 4],
        ['n1', 2],
      ]),
      startAfter: NOW + 120,
    };
    const changes = commitRound(state(), { notices: [], winBacks: [], newLeases: [placed] }, NOW, PARAMS);
    expect(changes.orders).toEqual([
      { leaseId: 'new', providerId: 'p-n1', type: 'place', notBefore: NOW + 120 },
      { leaseId: 'new', providerId: 'p-n2', type: 'place', notBefore: NOW + 120 },
    ]);
    expect(changes.newLeases[0].lease).toMatchObject({
      allocatedAt: NOW,
      protectedUntil: NOW + 600,
      runtimeSeconds: 3600,
    });
    expect(changes.events[0].data).toMatchObject({ gpus: 10, startAfter: new Date((NOW + 120) * 1000).toISOString() });
  });
});

describe('the commit step: notices and win-backs through the lease lifecycle', () => {
  const noticeEndsAt = NOW + PARAMS.preemptionNoticeSeconds;

  it('gives a displaced running preemptible lease its notice, with a stop per provider and a hard stop at its end', () => {
    const displaced = live('old', 'running', [
      ['n1', 8],
      ['n2', 2],
    ]);
    const changes = commitRound(
      state({
        leaseList: [displaced],
        used: new Map([
          ['n1', 8],
          ['n2', 2],
        ]),
      }),
      { notices: [{ leaseId: 'old', noticeEndsAt }], winBacks: [], newLeases: [proposal('new', [['n1', 8]])] },
      NOW,
      PARAMS,
    );
    expect(changes.notices.map((n) => [n.leaseId, n.lease.state, n.lease.noticeEndsAt])).toEqual([
      ['old', 'preempting', noticeEndsAt],
    ]);
    expect(changes.orders).toEqual([
      { leaseId: 'old', providerId: 'p-n1', type: 'preempt', graceSeconds: 120 },
      { leaseId: 'old', providerId: 'p-n2', type: 'preempt', graceSeconds: 120 },
      { leaseId: 'old', providerId: 'p-n1', type: 'terminate', graceSeconds: 0, notBefore: noticeEndsAt },
      { leaseId: 'old', providerId: 'p-n2', type: 'terminate', graceSeconds: 0, notBefore: noticeEndsAt },
      { leaseId: 'new', providerId: 'p-n1', type: 'place', notBefore: NOW },
    ]);
    // Its GPUs went to the new lease: the notice released them first.
    expect(changes.newLeases.map((l) => l.proposal.id)).toEqual(['new']);
    expect(changes.used.get('n2')).toBe(0);
    expect(changes.events.map((e) => [e.type, e.subjectId, e.tenantId])).toEqual([
      ['lease.preemption_notice', 'old', 'tenant-old'],
      ['bid.allocated', 'bid-new', 'tenant-new'],
    ]);
    expect(changes.events[0].data).toEqual({
      leaseId: 'old',
      bidId: 'bid-old',
      stopAt: new Date(noticeEndsAt * 1000).toISOString(),
      noticeSeconds: 120,
    });
  });

  const refused: Array<{ name: string; lease: CommitLease | null; reason: SkipReason }> = [
    {
      name: 'a non-preemptible lease is never displaced',
      lease: live('old', 'running', [['n1', 8]], false),
      reason: 'not_preemptible',
    },
    {
      name: 'a lease already in its notice gets no second one',
      lease: live('old', 'preempting', [['n1', 8]]),
      reason: 'illegal_transition',
    },
    {
      name: 'a lease not yet started is not given a notice',
      lease: live('old', 'allocated', [['n1', 8]]),
      reason: 'illegal_transition',
    },
    { name: 'a lease that ended since the round cleared is left alone', lease: null, reason: 'lease_gone' },
  ];
  it.each(refused)('$name, and a placement on its GPUs is dropped', ({ lease, reason }) => {
    const changes = commitRound(
      state({ leaseList: lease ? [lease] : [], used: new Map([['n1', 8]]) }),
      { notices: [{ leaseId: 'old', noticeEndsAt }], winBacks: [], newLeases: [proposal('new', [['n1', 8]])] },
      NOW,
      PARAMS,
    );
    expect(changes.notices).toEqual([]);
    expect(changes.skippedTransitions).toEqual([{ leaseId: 'old', event: 'preempt', reason }]);
    expect(changes.droppedLeases.map((d) => d.reason)).toEqual(['no_longer_fits']);
    expect(changes.orders).toEqual([]);
  });

  it('refuses a notice to a lease still inside its protected run', () => {
    const protectedLease = live('old', 'running', [['n1', 8]]);
    const changes = commitRound(
      state({ leaseList: [protectedLease] }),
      { notices: [{ leaseId: 'old', noticeEndsAt: 1500 + 120 }], winBacks: [], newLeases: [] },
      1500,
      PARAMS,
    );
    expect(changes.skippedTransitions).toEqual([{ leaseId: 'old', event: 'preempt', reason: 'protected' }]);
  });

  it('returns a lease in its notice that won its place back to running, with its GPUs taken again', () => {
    const noticed = live('kept', 'preempting', [['n1', 4]]);
    const changes = commitRound(
      state({ leaseList: [noticed], used: new Map([['n1', 4]]) }),
      { notices: [], winBacks: ['kept'], newLeases: [proposal('new', [['n1', 1]])] },
      NOW,
      PARAMS,
    );
    expect(changes.winBacks.map((w) => [w.leaseId, w.lease.state, w.lease.noticeEndsAt])).toEqual([
      ['kept', 'running', null],
    ]);
    // No stop is ordered for it; the service withdraws the pending ones of every win-back.
    expect(changes.orders.filter((o) => o.leaseId === 'kept')).toEqual([]);
    expect(changes.events[0]).toEqual({
      tenantId: 'tenant-kept',
      type: 'lease.running',
      subjectId: 'kept',
      data: { leaseId: 'kept', bidId: 'bid-kept', wonBack: true },
    });
    expect(changes.droppedLeases.map((d) => [d.proposal.id, d.reason])).toEqual([['new', 'no_longer_fits']]);
  });

  it('keeps a won-back lease on a node that stopped taking new work, but not on GPUs handed on meanwhile', () => {
    const onDrained = live('a', 'preempting', [['n1', 4]]);
    const handedOn = live('b', 'preempting', [['n2', 4]]);
    const changes = commitRound(
      state({
        leaseList: [onDrained, handedOn],
        nodes: new Map([
          ['n1', { capacity: 8, active: false }],
          ['n2', { capacity: 8, active: true }],
        ]),
        used: new Map([['n2', 8]]),
      }),
      { notices: [], winBacks: ['a', 'b'], newLeases: [] },
      NOW,
      PARAMS,
    );
    expect(changes.winBacks.map((w) => w.leaseId)).toEqual(['a']);
    expect(changes.skippedTransitions).toEqual([{ leaseId: 'b', event: 'win_back', reason: 'no_longer_fits' }]);
  });

  it('expires the bids whose window closed, each with its event, and leaves the state it was given unchanged', () => {
    const current = state({
      leaseList: [live('old', 'running', [['n1', 8]])],
      used: new Map([['n1', 8]]),
      expiringBids: [{ id: 'bid-late', tenantId: 'tenant-late' }],
    });
    const before = structuredClone({ used: [...current.used], leases: [...current.leases] });
    const changes = commitRound(
      current,
      { notices: [{ leaseId: 'old', noticeEndsAt }], winBacks: [], newLeases: [proposal('new', [['n1', 8]])] },
      NOW,
      PARAMS,
    );
    expect(changes.expiredBids).toEqual([{ id: 'bid-late', tenantId: 'tenant-late' }]);
    expect(changes.events[0]).toEqual({
      tenantId: 'tenant-late',
      type: 'bid.expired',
      subjectId: 'bid-late',
      data: { bidId: 'bid-late', reason: 'window_closed' },
    });
    expect({ used: [...current.used], leases: [...current.leases] }).toEqual(before);
  });
});

describe('the commit step: a lease named twice', () => {
  it('meets its own first change: a second notice is refused and releases nothing twice', () => {
    const changes = commitRound(
      state({ leaseList: [live('old', 'running', [['n1', 8]])], used: new Map([['n1', 8]]) }),
      {
        notices: [
          { leaseId: 'old', noticeEndsAt: NOW + 120 },
          { leaseId: 'old', noticeEndsAt: NOW + 120 },
        ],
        winBacks: [],
        newLeases: [],
      },
      NOW,
      PARAMS,
    );
    expect(changes.notices.map((n) => n.leaseId)).toEqual(['old']);
    expect(changes.skippedTransitions).toEqual([{ leaseId: 'old', event: 'preempt', reason: 'illegal_transition' }]);
    expect(changes.used.get('n1')).toBe(0);
  });
});
