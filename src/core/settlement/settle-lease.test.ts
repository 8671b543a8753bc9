import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { SettlementInputError, settleLeasePeriod, settlePeriod, type LeasePeriodUsage } from './settle-lease.js';

const usage = (over: Partial<LeasePeriodUsage> = {}): LeasePeriodUsage => ({
  leaseId: 'l-1',
  poolPrice: new Money('2.00'),
  limit: new Money('3.00'),
  gpus: 8,
  seconds: 60,
  feePercent: new Money(10),
  ...over,
});

const price = fc.integer({ min: 0, max: 100_000_000 }).map((n) => new Money(n).dividedBy(10_000));
const usageArb = fc.record({
  leaseId: fc.constant('l'),
  poolPrice: price,
  limit: price,
  gpus: fc.integer({ min: 0, max: 1024 }),
  seconds: fc.integer({ min: 0, max: 3600 }),
  feePercent: fc.integer({ min: 0, max: 10_000 }).map((n) => new Money(n).dividedBy(100)),
});

describe('settleLeasePeriod', () => {
  it('charges the pool price for a minute of 8 GPUs when the price is below the limit', () => {
    const s = settleLeasePeriod(usage());
    // 2.00 x 8 x 60 / 3600 = 0.266666... -> 0.266667
    expect(s.unitPrice.toFixed()).toBe('2');
    expect(s.charge.toFixed(6)).toBe('0.266667');
    expect(s.fee.toFixed(6)).toBe('0.026667');
    expect(s.payout.toFixed(6)).toBe('0.240000');
  });

  it('never charges more than the lease bid: the unit price is capped at its limit', () => {
    const s = settleLeasePeriod(usage({ poolPrice: new Money('5.00'), limit: new Money('1.50'), gpus: 2, seconds: 3600 }));
    expect(s.unitPrice.toFixed()).toBe('1.5');
    expect(s.charge.toFixed(6)).toBe('3.000000');
  });

  it('rounds half to even at six decimals', () => {
    // 0.0009 x 1 x 2 / 3600 = 0.0000005 exactly: a tie, goes to the even 0.000000
    expect(settleLeasePeriod(usage({ poolPrice: new Money('0.0009'), limit: new Money(1), gpus: 1, seconds: 2 })).charge.toFixed(6)).toBe('0.000000');
    // 0.0027 x 1 x 2 / 3600 = 0.0000015: ties to 0.000002
    expect(settleLeasePeriod(usage({ poolPrice: new Money('0.0027'), limit: new Money(1), gpus: 1, seconds: 2 })).charge.toFixed(6)).toBe('0.000002');
  });

  it('charges nothing for a lease that did not run in the period', () => {
    const s = settleLeasePeriod(usage({ seconds: 0 }));
    expect(s.charge.isZero() && s.fee.isZero() && s.payout.isZero()).toBe(true);
  });

  it.each([
    ['gpus', { gpus: -1 }],
    ['gpus', { gpus: 1.5 }],
    ['seconds', { seconds: -5 }],
    ['poolPrice', { poolPrice: new Money(-1) }],
    ['feePercent', { feePercent: new Money(101) }],
  ] as const)('rejects a bad %s', (field, over) => {
    expect(() => settleLeasePeriod(usage(over as Partial<LeasePeriodUsage>))).toThrow(SettlementInputError);
    try {
      settleLeasePeriod(usage(over as Partial<LeasePeriodUsage>));
    } catch (error) {
      expect((error as SettlementInputError).field).toBe(field);
    }
  });

  it('always balances: charge = payout + fee, exactly, for any input', () => {
    fc.assert(
      fc.property(usageArb, (u) => {
        const s = settleLeasePeriod(u);
        expect(s.charge.equals(s.payout.plus(s.fee))).toBe(true);
        expect(s.charge.decimalPlaces()).toBeLessThanOrEqual(6);
        expect(s.fee.decimalPlaces()).toBeLessThanOrEqual(6);
        expect(s.unitPrice.lessThanOrEqualTo(u.limit)).toBe(true);
        expect(s.payout.isNegative()).toBe(false);
      }),
    );
  });

  it('period totals reconcile: sum of charges = sum of payouts + sum of fees', () => {
    fc.assert(
      fc.property(fc.array(usageArb, { maxLength: 30 }), (usages) => {
        const { entries, totals } = settlePeriod(usages);
        expect(entries).toHaveLength(usages.length);
        expect(totals.charges.equals(totals.payouts.plus(totals.fees))).toBe(true);
      }),
    );
  });
});
