import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from './money.js';
import { ceilDiv, formatRate, fromMicros, meanHalfEven, toMicros } from './micros.js';

describe('micro-unit rates', () => {
  it('converts prices of up to six decimals exactly, and refuses a seventh', () => {
    expect(toMicros(new Money('2.350001'))).toBe(2_350_001);
    expect(fromMicros(2_350_001).toFixed()).toBe('2.350001');
    expect(formatRate(2_350_000)).toBe('2.350000');
    expect(() => toMicros(new Money('0.0000001'))).toThrow(RangeError);
  });

  it('rounds a mean half to even', () => {
    expect(meanHalfEven(5, 2)).toBe(2); // 2.5 -> 2
    expect(meanHalfEven(7, 2)).toBe(4); // 3.5 -> 4
    expect(meanHalfEven(10, 4)).toBe(2); // 2.5 -> 2
    expect(meanHalfEven(11, 4)).toBe(3); // 2.75 -> 3
  });

  it('agrees with exact decimal arithmetic on means and ceilings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e15 }), fc.integer({ min: 1, max: 1000 }), (total, count) => {
        const exact = new Money(total).dividedBy(count);
        expect(meanHalfEven(total, count)).toBe(exact.toDecimalPlaces(0, Money.ROUND_HALF_EVEN).toNumber());
        expect(ceilDiv(total, count)).toBe(exact.toDecimalPlaces(0, Money.ROUND_CEIL).toNumber());
      }),
    );
  });
});
