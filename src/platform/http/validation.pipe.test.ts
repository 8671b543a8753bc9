import type { ValidationError } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { flattenValidationErrors } from './validation.pipe.js';

describe('flattenValidationErrors', () => {
  it('names nested fields and array elements as the client wrote them', () => {
    const errors = [
      {
        property: 'offers',
        children: [
          { property: '0', children: [{ property: 'maxPrice', constraints: { maxDecimals: 'too many decimals' } }] },
        ],
      },
    ] as ValidationError[];
    expect(flattenValidationErrors(errors)).toEqual([
      { field: 'offers[0].maxPrice', rule: 'max_decimals', message: 'too many decimals' },
    ]);
  });

  it('flattens an array with 200,000 failing elements without overflowing the stack', () => {
    const children = Array.from({ length: 200_000 }, (_, i) => ({
      property: String(i),
      constraints: { isObject: 'must be an object' },
    }));
    expect(flattenValidationErrors([{ property: 'nodes', children } as unknown as ValidationError])).toHaveLength(
      200_000,
    );
  });
});
