import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { replicaOffers, replicaPrice } from './replica-value.js';

describe('replicaPrice', () => {
  it.each([
    ['scale to zero: the first replica bids in full', '3.00', 1, 0, '3'],
    ['second replica of a scale-to-zero service', '3.00', 2, 0, '2.7'],
    ['third', '3.00', 3, 0, '2.43'],
    ['every replica up to the minimum bids in full', '3.00', 3, 3, '3'],
    ['the first above the minimum decays once', '3.00', 4, 3, '2.7'],
    ['rounded down to 4 decimals, never above the limit', '1.2345', 3, 1, '0.9999'],
    ['never below the smallest price', '0.0001', 10, 0, '0.0001'],
  ] as const)('%s', (_name, maxPrice, rank, min, expected) => {
    expect(replicaPrice(new Money(maxPrice), rank, min).toFixed()).toBe(expected);
  });

  it('decays monotonically with the rank', () => {
    let previous = new Money('5');
    for (let rank = 1; rank <= 30; rank += 1) {
      const price = replicaPrice(new Money('5'), rank, 1);
      expect(price.lessThanOrEqualTo(previous)).toBe(true);
      previous = price;
    }
  });

  it('refuses a rank below 1', () => {
    expect(() => replicaPrice(new Money('1'), 0, 0)).toThrow(/rank/);
  });

  it('scales every offer of the XOR bundle by the same factor', () => {
    expect(
      replicaOffers(
        [
          { gpuModel: 'H100', maxPrice: '2' },
          { gpuModel: 'A100', maxPrice: '1' },
        ],
        2,
        0,
      ),
    ).toEqual([
      { gpuModel: 'H100', maxPrice: '1.8' },
      { gpuModel: 'A100', maxPrice: '0.9' },
    ]);
  });
});
