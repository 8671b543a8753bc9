import { describe, expect, it } from 'vitest';
import { leasesSeenByRound, type RoundLeaseCandidate } from './round-leases.js';

const lease = (
  id: string,
  state: RoundLeaseCandidate['state'],
  shares: [string, number][],
  protectedUntil: number | null = 700,
) => ({
  id,
  state,
  protectedUntil,
  shares: shares.map(([nodeId, gpus]) => ({ nodeId, gpus })),
});
const nodes = new Map([
  ['n1', 8],
  ['n2', 8],
]);
const ids = (leases: ReturnType<typeof lease>[]) =>
  leasesSeenByRound(leases, nodes).map((s) => [s.lease.id, s.protectedUntil]);

describe('leases a round sees (the market snapshot rule)', () => {
  it('always shows allocated and running leases with their protection', () => {
    expect(ids([lease('a', 'allocated', [['n1', 4]], 1320), lease('r', 'running', [['n1', 4]])])).toEqual([
      ['a', 1320],
      ['r', 700],
    ]);
  });

  it('hides a lease in its notice whose GPUs went to a newer lease, and offers one whose GPUs did not, unprotected', () => {
    // p: 8 GPUs on n1 handed to the allocated successor s; q: 4 GPUs on n2, nobody took them.
    const seen = ids([
      lease('p', 'preempting', [['n1', 8]]),
      lease('q', 'preempting', [['n2', 4]]),
      lease('s', 'allocated', [['n1', 4]], 1320),
    ]);
    expect(seen).toEqual([
      ['q', null],
      ['s', 1320],
    ]);
  });

  it('offers a lease in its notice again once the GPUs around its successor are free', () => {
    // p held 4 of n1 and its successor took the other 4 after another lease ended: p fits beside it.
    expect(ids([lease('p', 'preempting', [['n1', 4]]), lease('s', 'allocated', [['n1', 4]], 1320)])).toEqual([
      ['p', null],
      ['s', 1320],
    ]);
  });

  it('gives GPUs that two leases in their notice both want to the older one', () => {
    expect(ids([lease('old', 'preempting', [['n1', 6]]), lease('new', 'preempting', [['n1', 6]])])).toEqual([
      ['old', null],
    ]);
  });

  it('needs every share of a multi-node lease to fit', () => {
    const leases = [
      lease('p', 'preempting', [
        ['n1', 4],
        ['n2', 4],
      ]),
      lease('s', 'running', [['n2', 6]]),
    ];
    expect(ids(leases)).toEqual([['s', 700]]);
  });
});
