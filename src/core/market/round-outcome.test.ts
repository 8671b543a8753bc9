import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { node } from '../clearing/snapshot-fixtures.js';
import type { LiveLease, RoundOutcomeInput } from './round-outcome.js';
import { planRoundOutcome } from './round-outcome.js';
import type { RoundResult } from './types.js';

const NOW = 1_000_000;

function result(over: Partial<RoundResult>): RoundResult {
  return {
    version: 1,
    roundId: 'r',
    status: 'optimal',
    welfare: new Money(0),
    upperBound: null,
    placements: [],
    kept: [],
    preempted: [],
    prices: [],
    nodePrices: [{ node: 'a', price: new Money('2.00') }],
    keptPrices: [],
    paradoxicallyRejected: [],
    losses: [],
    stats: { solver: 'test', solveMs: 0, candidates: 0, phases: {} },
    ...over,
  };
}

function input(leases: LiveLease[], over: Partial<RoundResult>): RoundOutcomeInput {
  let n = 0;
  return {
    now: NOW,
    result: result(over),
    nodes: [node('a')],
    leases,
    bids: new Map([
      [
        'b',
        {
          id: 'b',
          preemptible: false,
          remainingSeconds: 3600,
          offers: [{ gpuModel: 'H100', maxPrice: new Money('3.00') }],
        },
      ],
    ]),
    preemptionNoticeSeconds: 120,
    minHoldSeconds: 600,
    newId: () => `new-${n++}`,
  };
}

const onA = { nodeId: 'a', gpus: 8 };
const placeB = {
  placements: [
    {
      bidId: 'b',
      gpuModel: 'H100',
      nodes: [{ node: 'a', gpus: 8 }],
      unitPrice: new Money('2.00'),
      uplift: new Money(0),
    },
  ],
};

describe('planRoundOutcome', () => {
  it('gives a displaced running lease its notice and starts the new lease when the notice ends', () => {
    const out = planRoundOutcome(
      input([{ id: 'old', state: 'running', limitPrice: new Money('1.50'), shares: [onA] }], {
        ...placeB,
        preempted: ['old'],
      }),
    );
    expect(out.notices).toEqual([{ leaseId: 'old', noticeEndsAt: NOW + 120 }]);
    expect(out.newLeases[0]).toMatchObject({ bidId: 'b', startAfter: NOW + 120, protectedUntil: NOW + 120 + 600 });
    expect(out.newLeases[0].shares[0].nodePrice.toFixed(2)).toBe('2.00');
    expect(out.newLeases[0].price).toEqual({ unitPrice: new Money('2.00'), uplift: new Money(0) });
  });

  it('starts a new lease no sooner than the notice of a lease already in its notice, displaced again, ends', () => {
    const noticed: LiveLease = {
      id: 'old',
      state: 'preempting',
      noticeEndsAt: NOW + 45,
      limitPrice: new Money('1.50'),
      shares: [onA],
    };
    const out = planRoundOutcome(input([noticed], { ...placeB, preempted: ['old'] }));
    expect(out.notices).toEqual([]);
    expect(out.newLeases[0].startAfter).toBe(NOW + 45);
  });

  it('a lease in its notice that the round keeps wins its place back and is priced again', () => {
    const noticed: LiveLease = {
      id: 'old',
      state: 'preempting',
      noticeEndsAt: NOW + 45,
      limitPrice: new Money('1.50'),
      shares: [onA],
    };
    const out = planRoundOutcome(
      input([noticed], {
        kept: ['old'],
        keptPrices: [{ leaseId: 'old', unitPrice: new Money('1.50'), uplift: new Money('0.50') }],
      }),
    );
    expect(out.winBacks).toEqual(['old']);
    expect(out.repricing).toEqual([
      {
        leaseId: 'old',
        shares: [expect.objectContaining({ nodeId: 'a', gpus: 8, nodePrice: new Money('2.00') })],
        unitPrice: new Money('1.50'),
        uplift: new Money('0.50'),
      },
    ]);
  });
});
