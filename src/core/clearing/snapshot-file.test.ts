import { describe, expect, it } from 'vitest';
import { parseSnapshot, serializeSnapshot } from './snapshot-file.js';
import { bid, lease, node, snapshot } from './snapshot-fixtures.js';

const valid = () =>
  serializeSnapshot(
    snapshot({
      nodes: [node('n-1')],
      leases: [lease('l-1', { 'n-1': 2 }, '1.50')],
      bids: [bid('b-1', 4, { H100: '2.50' })],
    }),
  ) as Record<string, any>;

describe('parseSnapshot', () => {
  it('reads back what serializeSnapshot wrote', () => {
    const parsed = parseSnapshot(valid());
    expect(serializeSnapshot(parsed)).toEqual(valid());
  });

  const cases: [string, (s: Record<string, any>) => void, string][] = [
    [
      'a price with five decimals',
      (s) => (s.bids[0].offers[0].maxPrice = '2.00001'),
      'bids[0].offers[0].maxPrice: must have at most 4 decimal places',
    ],
    ['a negative reserve', (s) => (s.nodes[0].reservePrice = '-1'), 'nodes[0].reservePrice: must not be negative'],
    [
      'an unknown contiguity',
      (s) => (s.bids[0].contiguity = 'rack'),
      'bids[0].contiguity: must be one of node, nvlink, block, none',
    ],
    ['an unknown field', (s) => (s.bids[0].colour = 'red'), 'bids[0].colour: unknown field'],
    [
      'a lease on an unknown node',
      (s) => (s.leases[0].placement[0].node = 'n-9'),
      'leases[0].placement[0].node: unknown node "n-9"',
    ],
    ['a duplicate bid id', (s) => s.bids.push({ ...s.bids[0] }), 'bids[1].id: duplicate id "b-1"'],
    [
      'more unavailable GPUs than the node has',
      (s) => (s.nodes[0].unavailableGpus = 9),
      'nodes[0].unavailableGpus: must be within 0..8',
    ],
    ['a wrong version', (s) => (s.version = 2), 'version: must be 1'],
    ['a bad timestamp', (s) => (s.now = 'yesterday'), 'now: must be an ISO-8601 timestamp'],
    ['a missing bids array', (s) => delete s.bids, 'bids: is required (an empty array when no bid is open)'],
    ['missing params', (s) => delete s.params, 'params: is required'],
    [
      'leases that overfill a node',
      (s) => s.leases.push({ ...s.leases[0], id: 'l-2', preemptible: false, placement: [{ node: 'n-1', gpus: 7 }] }),
      'leases[1].placement[0].gpus: leases l-1, l-2 hold 9 GPUs of node "n-1", which has 8 usable',
    ],
  ];
  for (const [name, mutate, message] of cases)
    it(`rejects ${name}, naming the field`, () => {
      const s = valid();
      mutate(s);
      expect(() => parseSnapshot(s)).toThrow(message);
    });
});
