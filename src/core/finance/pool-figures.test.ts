import { describe, expect, it } from 'vitest';
import { indexChange, perGpuHour } from './pool-figures.js';

describe('pool figures', () => {
  it('gives the index change exactly and its percentage to two places, half-even', () => {
    expect(indexChange('2.50', '2.00')).toEqual({ change: '0.50', percent: '25.00' });
    expect(indexChange('1.234567', '1.50')).toEqual({ change: '-0.265433', percent: '-17.70' });
    // 1/3 of a percent: 0.333...% rounds to 0.33.
    expect(indexChange('3.01', '3.00')).toEqual({ change: '0.01', percent: '0.33' });
    expect(indexChange('1.00', '0')).toEqual({ change: '1.00', percent: null });
    expect(indexChange(null, '1.00')).toEqual({ change: null, percent: null });
    expect(indexChange('1.00', null)).toEqual({ change: null, percent: null });
  });

  it('gives events per GPU-hour from GPU-seconds, null over none', () => {
    expect(perGpuHour(1, '14400')).toBe('0.250000');
    expect(perGpuHour(2, '10800')).toBe('0.666667');
    expect(perGpuHour(0, '3600')).toBe('0.000000');
    expect(perGpuHour(3, '0')).toBeNull();
  });
});
