import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { node } from '../../core/clearing/snapshot-fixtures.js';
import { CONTIGUITIES, type Contiguity, type MarketNode } from '../../core/market/types.js';
import { contiguityGroupKey } from '../../core/market/node-eligibility.js';
import { Money } from '../../core/money/money.js';
import {
  type OptionPrice,
  type OptionRequest,
  priceOption,
  priceTiers,
  type QuoteNode,
  runCost,
} from './quote-pricing.js';
import { estimateWithinWindow, quantileOption } from './quote-window.js';

const PENALTY = new Money('0.50');

/**
 * A node at a price (null: its reserve; the reserve defaults to 1.00) with GPUs held by fixed and displaceable
 * leases.
 */
function at(
  id: string,
  price: string | null,
  over: { reserve?: string; fixed?: number; leased?: number } & Partial<Omit<MarketNode, 'reservePrice'>> = {},
): QuoteNode {
  const { fixed, leased, reserve, ...rest } = over;
  const n = node(id, { reserve: reserve ?? '1.00', ...rest });
  return { node: n, price: new Money(price ?? n.reservePrice), fixedGpus: fixed ?? 0, leasedGpus: leased ?? 0 };
}

function ask(gpus: number, contiguity: Contiguity, limit: string, over: Partial<OptionRequest> = {}): OptionRequest {
  return {
    gpuModel: 'H100',
    gpus,
    contiguity,
    regions: [],
    compliance: [],
    minGpuMemoryGb: 0,
    limit: new Money(limit),
    ...over,
  };
}

/** The option in a comparable form: strings for money, the take's shape. */
function view(p: OptionPrice) {
  if (!p.available) return { reason: p.reason };
  return {
    priceToWin: p.priceToWin.toFixed(6),
    unitPrice: p.unitPrice.toFixed(6),
    wouldWin: p.wouldWin,
    reason: p.reason,
    take: p.take.map((t) => `${t.node}:${t.gpus}${t.displaced ? `(${t.displaced} displaced)` : ''}`),
  };
}

describe('priceOption: the price to win an option now', () => {
  // a: cheap but mostly held by a lease nobody may displace; b: dearer and idle; same block, own NVLink domains.
  const split = [at('a', '1.00', { fixed: 6, block: 'b1' }), at('b', '2.00', { block: 'b1' })];
  // c: half held by a displaceable lease; d: idle at a higher price.
  const displace = [at('c', '1.00', { leased: 4 }), at('d', '1.30')];

  const cases: Array<{ name: string; nodes: QuoteNode[]; request: OptionRequest; expected: ReturnType<typeof view> }> =
    [
      {
        name: 'an idle node: its price, which the limit reaches',
        nodes: [at('a', '1.00')],
        request: ask(4, 'node', '2.00'),
        expected: { priceToWin: '1.000000', unitPrice: '1.000000', wouldWin: true, reason: null, take: ['a:4'] },
      },
      {
        name: 'none: the cheapest GPUs anywhere, mixed across nodes',
        nodes: split,
        request: ask(4, 'none', '5.00'),
        expected: { priceToWin: '1.500000', unitPrice: '1.500000', wouldWin: true, reason: null, take: ['a:2', 'b:2'] },
      },
      {
        name: 'block: the same GPUs, both nodes share the block',
        nodes: split,
        request: ask(4, 'block', '5.00'),
        expected: { priceToWin: '1.500000', unitPrice: '1.500000', wouldWin: true, reason: null, take: ['a:2', 'b:2'] },
      },
      {
        name: 'nvlink: one domain, so only the dearer node has room',
        nodes: split,
        request: ask(4, 'nvlink', '5.00'),
        expected: { priceToWin: '2.000000', unitPrice: '2.000000', wouldWin: true, reason: null, take: ['b:4'] },
      },
      {
        name: 'node: one node, so only the dearer node has room',
        nodes: split,
        request: ask(4, 'node', '1.99'),
        expected: {
          priceToWin: '2.000000',
          unitPrice: '2.000000',
          wouldWin: false,
          reason: 'above_limit',
          take: ['b:4'],
        },
      },
      {
        name: 'displacing a preemptible lease costs the penalty to win but is not paid',
        nodes: [at('c', '1.00', { leased: 8 })],
        request: ask(8, 'node', '1.50'),
        expected: {
          priceToWin: '1.500000',
          unitPrice: '1.000000',
          wouldWin: true,
          reason: null,
          take: ['c:8(8 displaced)'],
        },
      },
      {
        name: 'a node with a lease to displace can still be the cheaper one',
        nodes: displace,
        request: ask(8, 'node', '2.00'),
        // c: 4 x 1.00 + 4 x 1.50 = 10 -> 1.25 beats d at 1.30.
        expected: {
          priceToWin: '1.250000',
          unitPrice: '1.000000',
          wouldWin: true,
          reason: null,
          take: ['c:8(4 displaced)'],
        },
      },
      {
        name: 'none: the free GPUs of the cheap node, then the idle node before displacing anyone',
        nodes: displace,
        request: ask(8, 'none', '2.00'),
        // 4 x 1.00 + 4 x 1.30 = 9.2 -> 1.15, below the 1.50 of displacing.
        expected: { priceToWin: '1.150000', unitPrice: '1.150000', wouldWin: true, reason: null, take: ['c:4', 'd:4'] },
      },
      {
        name: 'GPUs of fixed leases are not for sale at any price',
        nodes: [at('a', '1.00', { fixed: 8 })],
        request: ask(1, 'none', '100'),
        expected: { reason: 'no_capacity_for_contiguity' },
      },
      {
        name: 'GPUs no one may use (a workload the market failed to stop) are not for sale',
        nodes: [at('a', '1.00', { unavailableGpus: 4 })],
        request: ask(8, 'node', '100'),
        expected: { reason: 'no_capacity_for_contiguity' },
      },
      {
        name: 'a reserve above the limit: the price to win is that reserve',
        nodes: [at('a', null, { reserve: '3.00' })],
        request: ask(1, 'node', '2.00'),
        expected: {
          priceToWin: '3.000000',
          unitPrice: '3.000000',
          wouldWin: false,
          reason: 'below_reserve',
          take: ['a:1'],
        },
      },
      {
        name: 'a placement may not use a node whose reserve is above the limit, even when the mean is below it',
        nodes: [at('a', '1.00', { fixed: 7 }), at('b', '3.00', { reserve: '3.00' })],
        request: ask(2, 'none', '2.50'),
        // Mean (1 + 3) / 2 = 2, but b asks 3: the limit must reach 3.
        expected: {
          priceToWin: '3.000000',
          unitPrice: '2.000000',
          wouldWin: false,
          reason: 'below_reserve',
          take: ['a:1', 'b:1'],
        },
      },
      {
        name: 'a rent above the limit is above_limit, not below_reserve',
        nodes: [at('a', '2.50', { reserve: '1.00' })],
        request: ask(1, 'node', '2.00'),
        expected: {
          priceToWin: '2.500000',
          unitPrice: '2.500000',
          wouldWin: false,
          reason: 'above_limit',
          take: ['a:1'],
        },
      },
      {
        name: 'the price to win rounds up to six places; what is paid rounds half-even',
        nodes: [at('a', '1.000000', { gpus: 2 }), at('b', '1.000001', { gpus: 1 })],
        request: ask(3, 'none', '1.000000'),
        // 3.000001 / 3 = 1.00000033...: a limit of 1.000000 is short of it.
        expected: {
          priceToWin: '1.000001',
          unitPrice: '1.000000',
          wouldWin: false,
          reason: 'above_limit',
          take: ['a:2', 'b:1'],
        },
      },
      {
        name: 'equal prices: the smaller group key wins, deterministically',
        nodes: [at('z', '1.00'), at('a', '1.00')],
        request: ask(8, 'node', '1.00'),
        expected: { priceToWin: '1.000000', unitPrice: '1.000000', wouldWin: true, reason: null, take: ['a:8'] },
      },
      {
        name: 'nodes of another model do not count',
        nodes: [at('a', '1.00', { gpuModel: 'A100' })],
        request: ask(1, 'none', '5.00'),
        expected: { reason: 'no_matching_nodes' },
      },
      {
        name: 'nor nodes outside the regions, without the compliance tags, or with too little memory',
        nodes: [
          at('a', '1.00', { region: 'eu-west' }),
          at('b', '1.00', { compliance: ['soc2'] }),
          at('c', '1.00', { gpuMemoryGb: 40 }),
        ],
        request: ask(1, 'none', '5.00', {
          regions: ['eu-west', 'us-east'],
          compliance: ['soc2', 'hipaa'],
          minGpuMemoryGb: 80,
        }),
        expected: { reason: 'no_matching_nodes' },
      },
      {
        name: 'compliance narrows the supply to the tagged nodes and their prices',
        nodes: [at('a', '1.00'), at('b', '1.80', { compliance: ['soc2'] })],
        request: ask(2, 'none', '2.00', { compliance: ['soc2'] }),
        expected: { priceToWin: '1.800000', unitPrice: '1.800000', wouldWin: true, reason: null, take: ['b:2'] },
      },
      {
        name: 'none reaches across regions',
        nodes: [at('a', '1.00', { gpus: 4, region: 'eu-west' }), at('b', '2.00', { gpus: 4, region: 'us-east' })],
        request: ask(8, 'none', '5.00'),
        expected: { priceToWin: '1.500000', unitPrice: '1.500000', wouldWin: true, reason: null, take: ['a:4', 'b:4'] },
      },
    ];

  it.each(cases)('$name', ({ nodes, request, expected }) => {
    expect(view(priceOption(nodes, request, PENALTY))).toEqual(expected);
  });

  it('is the lowest limit that wins: a tick below it loses, at it wins', () => {
    const nodes = [at('a', '1.10', { leased: 3, gpus: 4 }), at('b', '1.70', { gpus: 2 })];
    const price = priceOption(nodes, ask(4, 'none', '0'), PENALTY);
    if (!price.available) throw new Error('expected a price');
    // 1 x 1.10 free, then 3 x 1.60 (1.10 + penalty, below b's 1.70) = 5.90 -> 1.475.
    expect(price.priceToWin.toFixed()).toBe('1.475');
    expect(priceOption(nodes, ask(4, 'none', '1.475'), PENALTY)).toMatchObject({ wouldWin: true, reason: null });
    expect(priceOption(nodes, ask(4, 'none', '1.474999'), PENALTY)).toMatchObject({
      wouldWin: false,
      reason: 'above_limit',
    });
  });

  it('leaves its inputs unchanged', () => {
    const nodes = [at('b', '2.00'), at('a', '1.00', { leased: 2 })];
    const before = JSON.stringify(nodes);
    priceOption(nodes, ask(12, 'none', '5.00'), PENALTY);
    expect(JSON.stringify(nodes)).toBe(before);
  });
});

/**
 * The definition, written out plainly: a limit wins when some group's cheapest `gpus` GPUs of
 * nodes whose reserve is within it (leased ones at price + penalty) cost at most limit x gpus.
 */
function winsAt(nodes: readonly QuoteNode[], request: OptionRequest, limit: Money): boolean {
  const groups = new Map<string, Money[]>();
  for (const n of nodes) {
    if (n.node.reservePrice.greaterThan(limit)) continue;
    const usable = n.node.gpus - n.node.unavailableGpus - n.fixedGpus;
    const leased = Math.min(n.leasedGpus, usable);
    const each = [...Array(usable - leased).fill(n.price), ...Array(leased).fill(n.price.plus(PENALTY))];
    const key = contiguityGroupKey(n.node, request.contiguity);
    groups.set(key, [...(groups.get(key) ?? []), ...each]);
  }
  for (const gpus of groups.values()) {
    if (gpus.length < request.gpus) continue;
    const cost = [...gpus]
      .sort((a, b) => a.comparedTo(b))
      .slice(0, request.gpus)
      .reduce((t, p) => t.plus(p), new Money(0));
    if (cost.lessThanOrEqualTo(limit.times(request.gpus))) return true;
  }
  return false;
}

describe('priceOption on random small supplies (fast-check)', () => {
  const cents = (lo: number, hi: number) => fc.integer({ min: lo, max: hi }).map((c) => new Money(c).dividedBy(100));
  const supply = fc.array(
    fc.record({
      gpus: fc.integer({ min: 1, max: 4 }),
      reserve: cents(50, 200),
      rent: cents(0, 150),
      held: fc.integer({ min: 0, max: 4 }),
      leased: fc.boolean(),
      block: fc.constantFrom('b1', 'b2'),
    }),
    { minLength: 1, maxLength: 5 },
  );
  const arbitrary = fc.record({
    supply,
    gpus: fc.integer({ min: 1, max: 8 }),
    contiguity: fc.constantFrom(...CONTIGUITIES),
    limit: cents(0, 500),
  });
  const nodesOf = (s: { gpus: number; reserve: Money; rent: Money; held: number; leased: boolean; block: string }[]) =>
    s.map((n, i) => {
      const held = Math.min(n.held, n.gpus);
      return at(`n${i}`, n.reserve.plus(n.rent).toFixed(), {
        reserve: n.reserve.toFixed(),
        gpus: n.gpus,
        block: n.block,
        fixed: n.leased ? 0 : held,
        leased: n.leased ? held : 0,
      });
    });

  it('the price to win is the lowest limit that wins, and the limit wins exactly when it reaches it', () => {
    fc.assert(
      fc.property(arbitrary, ({ supply: s, gpus, contiguity, limit }) => {
        const nodes = nodesOf(s);
        const request = ask(gpus, contiguity, limit.toFixed());
        const price = priceOption(nodes, request, PENALTY);
        expect(price).toEqual(priceTiers(nodes, request, PENALTY)[contiguity]);
        if (!price.available) {
          expect(winsAt(nodes, request, new Money(1_000_000))).toBe(false);
          return;
        }
        expect(winsAt(nodes, request, price.priceToWin)).toBe(true);
        expect(winsAt(nodes, request, price.priceToWin.minus('0.000001'))).toBe(false);
        expect(price.wouldWin).toBe(winsAt(nodes, request, limit));
        expect(price.unitPrice.lessThanOrEqualTo(price.priceToWin)).toBe(true);
        expect(price.take.reduce((t, x) => t + x.gpus, 0)).toBe(gpus);
      }),
      { numRuns: 500, seed: 20261206 },
    );
  });
});

describe('estimateWithinWindow: the 25th percentile of past rounds, never above now', () => {
  const priced = (price: string) => priceOption([at('a', price, { reserve: '0.10' })], ask(1, 'node', '3.00'), PENALTY);
  const none: OptionPrice = { available: false, reason: 'no_capacity_for_contiguity' };
  const price = (e: ReturnType<typeof estimateWithinWindow>) =>
    e.option.available ? e.option.priceToWin.toFixed(2) : e.option.reason;

  const cases: Array<{
    name: string;
    now: OptionPrice;
    past: OptionPrice[];
    expected: { price: string; from: string; rounds: number; available: number };
  }> = [
    {
      name: 'nearest rank of 4, 1, 2, 3 is 1',
      now: priced('3.00'),
      past: ['4.00', '1.00', '2.00', '3.00'].map(priced),
      expected: { price: '1.00', from: 'history_p25', rounds: 4, available: 4 },
    },
    {
      name: 'now when it is cheaper than the percentile',
      now: priced('0.50'),
      past: ['4.00', '1.00'].map(priced),
      expected: { price: '0.50', from: 'now', rounds: 2, available: 2 },
    },
    {
      name: 'now when it equals the percentile',
      now: priced('1.00'),
      past: ['1.00', '2.00'].map(priced),
      expected: { price: '1.00', from: 'now', rounds: 2, available: 2 },
    },
    {
      name: 'now without history',
      now: priced('2.00'),
      past: [],
      expected: { price: '2.00', from: 'now', rounds: 0, available: 0 },
    },
    {
      name: 'rounds without capacity are counted, not priced',
      now: priced('3.00'),
      past: [none, priced('2.00'), none],
      expected: { price: '2.00', from: 'history_p25', rounds: 3, available: 1 },
    },
    {
      name: 'history when there is no capacity now',
      now: none,
      past: [priced('2.00'), priced('2.50')],
      expected: { price: '2.00', from: 'history_p25', rounds: 2, available: 2 },
    },
    {
      name: 'the reason now when no round had capacity',
      now: none,
      past: [none],
      expected: { price: 'no_capacity_for_contiguity', from: 'now', rounds: 1, available: 0 },
    },
    // 8 rounds: rank ceil(0.25 x 8) = 2.
    {
      name: 'rank ceil(q n)',
      now: priced('3.00'),
      past: ['1.10', '1.20', '1.30', '1.40', '1.50', '1.60', '1.70', '1.80'].reverse().map(priced),
      expected: { price: '1.20', from: 'history_p25', rounds: 8, available: 8 },
    },
  ];

  it.each(cases)('$name', ({ now, past, expected }) => {
    const e = estimateWithinWindow(now, past);
    expect({ price: price(e), from: e.from, rounds: e.rounds, available: e.available }).toEqual(expected);
  });

  it('keeps the chosen round whole: its price to win and what is paid there', () => {
    const rounds = [priceOption([at('c', '1.00', { leased: 8 })], ask(8, 'node', '9'), PENALTY), priced('2.00')];
    expect(() => quantileOption([], 0.25)).toThrow(RangeError);
    const e = estimateWithinWindow(priced('3.00'), rounds);
    expect(view(e.option)).toMatchObject({ priceToWin: '1.500000', unitPrice: '1.000000' });
  });
});

describe('runCost', () => {
  it.each([
    ['1.50', 8, 7200, '24.000000'],
    ['1.25', 1, 600, '0.208333'],
    ['1.000001', 3, 3600, '3.000003'],
    // 0.009 x 1 GPU x 1 s / 3600 = 0.0000025: half-even to 0.000002.
    ['0.009', 1, 1, '0.000002'],
  ])('%s x %i GPUs x %i s', (price, gpus, seconds, cost) => {
    expect(runCost(new Money(price), gpus, seconds).toFixed(6)).toBe(cost);
  });
});
