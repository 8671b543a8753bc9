import { describe, expect, it } from 'vitest';
import { node } from '../../core/clearing/snapshot-fixtures.js';
import { Money } from '../../core/money/money.js';
import { type SupplyLease, type SupplyNode, supplyInRounds, supplyNow } from './quote-supply.js';

const NOW = new Date('2031-01-02T00:00:00Z');
const LATER = NOW.getTime() + 60_000;
const EARLIER = NOW.getTime() - 60_000;

const supply = (id: string, latest: string | null, over: { active?: boolean; reserve?: string } = {}): SupplyNode => ({
  node: node(id, { reserve: over.reserve ?? '1.00' }),
  active: over.active ?? true,
  latestPrice: latest === null ? null : new Money(latest),
});
const lease = (
  state: SupplyLease['state'],
  preemptible: boolean,
  protectedUntil: number | null,
  shares: Record<string, number>,
): SupplyLease => ({
  state,
  preemptible,
  protectedUntil,
  shares: Object.entries(shares).map(([nodeId, gpus]) => ({ nodeId, gpus })),
});

/** Per node: price, fixed, leased, unavailable. */
const view = (nodes: ReturnType<typeof supplyNow>) =>
  Object.fromEntries(
    nodes.map((n) => [n.node.id, [n.price.toFixed(2), n.fixedGpus, n.leasedGpus, n.node.unavailableGpus]]),
  );

describe('supplyNow: who holds which GPUs, as the next round will see it', () => {
  const cases: Array<{
    name: string;
    nodes: SupplyNode[];
    leases: SupplyLease[];
    stuck?: Record<string, number>;
    expected: Record<string, unknown[]>;
  }> = [
    {
      name: 'an idle node at its latest price',
      nodes: [supply('a', '1.40')],
      leases: [],
      expected: { a: ['1.40', 0, 0, 0] },
    },
    {
      name: 'a node the latest round did not price: its reserve (rent 0)',
      nodes: [supply('a', null, { reserve: '1.20' })],
      leases: [],
      expected: { a: ['1.20', 0, 0, 0] },
    },
    {
      name: 'a reserve raised since the round: never below it',
      nodes: [supply('a', '1.40', { reserve: '1.60' })],
      leases: [],
      expected: { a: ['1.60', 0, 0, 0] },
    },
    {
      name: 'a non-preemptible lease is fixed',
      nodes: [supply('a', '2.00')],
      leases: [lease('running', false, EARLIER, { a: 3 })],
      expected: { a: ['2.00', 3, 0, 0] },
    },
    {
      name: 'a preemptible lease inside its protected run is fixed',
      nodes: [supply('a', '2.00')],
      leases: [lease('allocated', true, LATER, { a: 3 })],
      expected: { a: ['2.00', 3, 0, 0] },
    },
    {
      name: 'a preemptible lease past it may be displaced',
      nodes: [supply('a', '2.00')],
      leases: [lease('running', true, EARLIER, { a: 3 })],
      expected: { a: ['2.00', 0, 3, 0] },
    },
    {
      name: 'as may one in its notice, whatever its protection said',
      nodes: [supply('a', '2.00')],
      leases: [lease('preempting', true, LATER, { a: 3 })],
      expected: { a: ['2.00', 0, 3, 0] },
    },
    {
      name: 'a lease in its notice whose GPUs went to a newer lease holds nothing',
      nodes: [supply('a', '2.00')],
      leases: [lease('preempting', true, null, { a: 4 }), lease('allocated', false, LATER, { a: 8 })],
      expected: { a: ['2.00', 8, 0, 0] },
    },
    {
      name: 'a draining node is not for sale, but its GPUs count in which leases a round sees',
      nodes: [supply('a', '2.00'), supply('d', '2.00', { active: false })],
      leases: [lease('preempting', true, null, { a: 2, d: 2 })],
      expected: { a: ['2.00', 0, 2, 0] },
    },
    {
      name: 'GPUs a workload the market failed to stop may hold are unavailable, within what leases leave',
      nodes: [supply('a', '2.00'), supply('b', '2.00')],
      leases: [lease('running', false, null, { b: 6 })],
      stuck: { a: 3, b: 4 },
      expected: { a: ['2.00', 0, 0, 3], b: ['2.00', 6, 0, 2] },
    },
  ];

  it.each(cases)('$name', ({ nodes, leases, stuck, expected }) => {
    expect(view(supplyNow(nodes, leases, new Map(Object.entries(stuck ?? {})), NOW))).toEqual(expected);
  });
});

describe('supplyInRounds: the supply of past rounds', () => {
  it("prices today's active nodes at each round's prices and occupancy, leaving out nodes a round did not price", () => {
    const now = supplyNow(
      [supply('a', '3.00', { reserve: '1.20' }), supply('b', '3.00')],
      [],
      new Map([['a', 8]]),
      NOW,
    );
    const rounds = supplyInRounds(
      now,
      ['r1', 'r2', 'r3'],
      [
        { roundId: 'r1', nodeId: 'a', price: new Money('1.00'), fixedGpus: 2, leasedGpus: 1 },
        { roundId: 'r1', nodeId: 'b', price: new Money('1.50'), fixedGpus: 0, leasedGpus: 0 },
        { roundId: 'r2', nodeId: 'b', price: new Money('2.50'), fixedGpus: 8, leasedGpus: 0 },
        { roundId: 'r2', nodeId: 'gone', price: new Money('0.10'), fixedGpus: 0, leasedGpus: 0 },
      ],
    );
    // a's reserve is 1.20 now: its 1.00 of r1 counts as 1.20; a GPU stuck now was not stuck then.
    expect(rounds.map(view)).toEqual([{ a: ['1.20', 2, 1, 0], b: ['1.50', 0, 0, 0] }, { b: ['2.50', 8, 0, 0] }, {}]);
  });
});
