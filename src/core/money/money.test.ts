import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, formatPrice, Money, MoneyFormatError, parsePrice, sum } from './money.js';

describe('parsePrice', () => {
  it.each([
    ['2.50', '2.5'],
    [2.5, '2.5'],
    ['0', '0'],
    ['1.2345', '1.2345'],
  ])('accepts %s', (input, expected) => {
    expect(parsePrice(input).toFixed()).toBe(expected);
  });

  it.each([
    ['1.23456', 'too_many_decimals'],
    ['-1', 'negative'],
    ['abc', 'not_a_decimal'],
    ['1e3', 'not_a_decimal'],
    [Number.NaN, 'not_a_decimal'],
    ['2000000', 'too_large'],
  ])('rejects %s as %s', (input, rule) => {
    expect(() => parsePrice(input as string)).toThrow(MoneyFormatError);
    try {
      parsePrice(input as string);
    } catch (error) {
      expect((error as MoneyFormatError).rule).toBe(rule);
    }
  });

  it('reads 0.1 + 0.2 without binary error', () => {
    expect(parsePrice('0.1').plus(parsePrice('0.2')).toFixed()).toBe('0.3');
  });

  it('formats with at least two places', () => {
    expect(formatPrice(new Money('2.5'))).toBe('2.50');
    expect(formatPrice(new Money('1.2345'))).toBe('1.2345');
  });
});

describe('allocate', () => {
  it('splits without losing a unit', () => {
    const parts = allocate(new Money('1.000000'), [new Money(1), new Money(1), new Money(1)]);
    expect(parts.map((p) => p.toFixed(6))).toEqual(['0.333334', '0.333333', '0.333333']);
  });

  it('always sums back to the total (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 12 }),
        (micros, weights) => {
          const total = new Money(micros).dividedBy(1_000_000);
          const parts = allocate(
            total,
            weights.map((w) => new Money(w)),
          );
          expect(sum(parts).equals(total)).toBe(true);
          for (const p of parts) expect(p.isNegative()).toBe(false);
        },
      ),
    );
  });
});
