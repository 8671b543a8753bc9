import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { gpuHoursOf, ratioOf, reconcile, volumeWeightedPrice } from './report-figures.js';

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
    // 2.00 x 8 + 3.00 x 4 = 28 over 12: 2.3333...
    ['28', '12', '2.3333'],
    // half-even at the fourth place: 1.00005 -> 1.0000, 1.00015 -> 1.0002
    ['1.00005', '1', '1.00'],
    ['1.00015', '1', '1.0002'],
  ])('sum(price x volume) %s over volume %s is %s', (weighted, volume, expected) => {
    expect(volumeWeightedPrice(weighted, volume)).toBe(expected);
  });

  it('is null when nothing was sold', () => {
    expect(volumeWeightedPrice('0', '0')).toBeNull();
  });

  it('lies between the lowest and highest price traded', () => {
    const trade = fc.record({ price: fc.integer({ min: 0, max: 10_000_000 }), volume: fc.integer({ min: 1, max: 4096 }) });
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 30 }), (trades) => {
        const prices = trades.map((t) => new Money(t.price).dividedBy(10_000));
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
    expect(reconcile({ charges: '10.266667', payouts: '9.240000', fees: '1.026667' })).toEqual({
      charges: '10.266667',
      payouts: '9.240000',
      fees: '1.026667',
      difference: '0.000000',
      balanced: true,
    });
  });

  it('reports the exact difference when a micro-unit is missing, unrounded', () => {
    const result = reconcile({ charges: '10.266667', payouts: '9.240000', fees: '1.026666' });
    expect(result.difference).toBe('0.000001');
    expect(result.balanced).toBe(false);
    expect(reconcile({ charges: '1', payouts: '1.0000001', fees: '0' }).difference).toBe('-0.0000001');
  });
});
