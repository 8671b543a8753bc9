import { describe, expect, it } from 'vitest';
import type { ConcurrencySample } from './autoscaler.js';
import { mergeConcurrency } from './merge-samples.js';

const s = (at: number, concurrency: number, seconds = 1): ConcurrencySample => ({ at, seconds, concurrency });

describe('mergeConcurrency', () => {
  it.each<[string, ConcurrencySample[], ConcurrencySample[][], number[]]>([
    ['no other gateway: the own samples', [s(1000, 2), s(2000, 3)], [], [2, 3]],
    ['another in phase: summed', [s(1000, 2), s(2000, 3)], [[s(1000, 1), s(2000, 4)]], [3, 7]],
    ['another out of phase: its nearest sample', [s(1000, 2), s(2000, 3)], [[s(1400, 1), s(2450, 5)]], [3, 8]],
    ['two others', [s(1000, 0)], [[s(900, 2)], [s(1100, 3)]], [5]],
    ['a gateway that went silent carries nothing', [s(1000, 1), s(9000, 1)], [[s(1000, 4)]], [5, 1]],
    ['the own samples stay the grid', [s(5000, 1, 5)], [[s(1000, 9), s(4000, 2)]], [3]],
  ])('%s', (_, own, others, expected) => {
    const merged = mergeConcurrency(own, others);
    expect(merged.map((m) => m.concurrency)).toEqual(expected);
    expect(merged.map((m) => [m.at, m.seconds])).toEqual(own.map((m) => [m.at, m.seconds]));
  });
});
