import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { gpuHoursOf, netFeesOf, ratioOf, reconcile, rentOf, volumeWeightedPrice } from './report-figures.js';

describe('gpuHoursOf', () => {
  it.each([
    [3600, '1.000000'],
    [8 * 60, '0.133333'],
    [1, '0.000278'],
    ['28800', '8.000000'],
    [0, '0.000000'],
  ])('%s GPU-seconds are %s GPU-hours', (seconds, hours) => {
    expect(gpuHoursOf(seconds)).toBe(hours);
  });
});

describe('volumeWeightedPrice', () => {
  it.each([
    // 2.00 x 8 + 3.00 x 8 over 16 GPUs
    ['40', '16', '2.50'],
    // 2.00 x 8 + 3.00 x 4 = 28 over 12: 2.333333...
    ['28', '12', '2.333333'],
    // unit prices have six places, and so does their average; half-even at the sixth place
    ['2.123456', '1', '2.123456'],
    ['1.0000005', '1', '1.00'],
    ['1.0000015', '1', '1.000002'],
  ])('sum(price x volume) %s over volume %s is %s', (weighted, volume, expected) => {
    expect(volumeWeightedPrice(weighted, volume)).toBe(expected);
  });

  it('is null when nothing was sold', () => {
    expect(volumeWeightedPrice('0', '0')).toBeNull();
  });

  it('lies between the lowest and highest price traded', () => {
    const trade = fc.record({
      price: fc.integer({ min: 0, max: 10_000_000 }),
      volume: fc.integer({ min: 1, max: 4096 }),
    });
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 30 }), (trades) => {
        const prices = trades.map((t) => new Money(t.price).dividedBy(1_000_000));
        const weighted = trades.reduce((total, t, i) => total.plus(prices[i].times(t.volume)), new Money(0));
        const volume = trades.reduce((total, t) => total + t.volume, 0);
        const vwap = new Money(volumeWeightedPrice(weighted, volume)!);
        expect(vwap.greaterThanOrEqualTo(Money.min(...prices))).toBe(true);
        expect(vwap.lessThanOrEqualTo(Money.max(...prices))).toBe(true);
      }),
    );
  });
});

describe('ratioOf', () => {
  it.each([
    ['12', '16', '0.750000'],
    ['1', '3', '0.333333'],
    ['2', '3', '0.666667'],
    ['0', '8', '0.000000'],
  ])('%s over %s is %s', (part, whole, ratio) => {
    expect(ratioOf(part, whole)).toBe(ratio);
  });

  it('is null over nothing', () => {
    expect(ratioOf('0', '0')).toBeNull();
  });
});

describe('reconcile', () => {
  it('balances when charges are payouts plus fees to the last micro-unit', () => {
    expect(reconcile({ charges: '10.266667', uplift: '0', payouts: '9.240000', fees: '1.026667' })).toEqual({
      charges: '10.266667',
      uplift: '0.000000',
      payouts: '9.240000',
      fees: '1.026667',
      difference: '0.000000',
      balanced: true,
    });
  });

  it('balances when charges plus uplift are payouts plus fees', () => {
    // A lease capped at 2.00 on a node priced 2.50, 8 GPUs for an hour, fee 10% of the gross 20.
    expect(
      reconcile({ charges: '16.000000', uplift: '4.000000', payouts: '18.000000', fees: '2.000000' }),
    ).toMatchObject({ difference: '0.000000', balanced: true });
  });

  it('does not balance a ledger that leaves the uplift out', () => {
    expect(reconcile({ charges: '16.000000', uplift: '0', payouts: '18.000000', fees: '2.000000' })).toMatchObject({
      difference: '-4.000000',
      balanced: false,
    });
  });

  it('reports the exact difference when a micro-unit is missing, unrounded', () => {
    const result = reconcile({ charges: '10.266667', uplift: '0.000001', payouts: '9.240000', fees: '1.026667' });
    expect(result.difference).toBe('0.000001');
    expect(result.balanced).toBe(false);
    expect(reconcile({ charges: '1', uplift: '0', payouts: '1.0000001', fees: '0' }).difference).toBe('-0.0000001');
  });

  it('balances whenever every entry does, whatever its split (property)', () => {
    const entry = fc.record({
      gross: fc.integer({ min: 0, max: 10 ** 12 }),
      upliftShare: fc.integer({ min: 0, max: 100 }),
      feePercent: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries) => {
        // In micro-units: gross = charge + uplift = payout + fee, each entry on its own.
        const rows = entries.map((e) => {
          const uplift = Math.floor((e.gross * e.upliftShare) / 100);
          const fee = Math.floor((e.gross * e.feePercent) / 100);
          return { charge: e.gross - uplift, uplift, fee, payout: e.gross - fee };
        });
        const total = (key: 'charge' | 'uplift' | 'fee' | 'payout') =>
          new Money(rows.reduce((t, r) => t + r[key], 0)).dividedBy(1_000_000);
        expect(
          reconcile({ charges: total('charge'), uplift: total('uplift'), payouts: total('payout'), fees: total('fee') })
            .balanced,
        ).toBe(true);
      }),
    );
  });
});

describe('netFeesOf and rentOf', () => {
  it('takes the uplift the market paid out of its fees', () => {
    expect(netFeesOf('5.795556', '1.000000')).toBe('4.795556');
    expect(netFeesOf('0.100000', '0.250000')).toBe('-0.150000');
  });

  it("gives a node's rent as its price less its reserve, exact to the micro-unit", () => {
    expect(rentOf('2.345678', '1.50')).toBe('0.845678');
    expect(rentOf('1.50', '1.50')).toBe('0.00');
  });
});
