import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money, sum } from '../money/money.js';
import {
  SettlementInputError,
  leaseUnitPrice,
  settleLeasePeriod,
  settlePeriod,
  type LeasePeriodUsage,
} from './settle-lease.js';

const usage = (over: Partial<LeasePeriodUsage> = {}): LeasePeriodUsage => ({
  leaseId: 'l-1',
  limit: new Money('3.00'),
  shares: [{ gpus: 8, nodePrice: new Money('2.00') }],
  seconds: 60,
  feePercent: new Money(10),
  ...over,
});

// Node prices carry up to six decimals, limits four.
const rate = fc.integer({ min: 0, max: 100_000_000 }).map((n) => new Money(n).dividedBy(1_000_000));
const limit = fc.integer({ min: 0, max: 1_000_000 }).map((n) => new Money(n).dividedBy(10_000));
const usageArb = fc.record({
  leaseId: fc.constant('l'),
  limit,
  shares: fc.array(fc.record({ gpus: fc.integer({ min: 1, max: 64 }), nodePrice: rate }), {
    minLength: 1,
    maxLength: 6,
  }),
  seconds: fc.integer({ min: 0, max: 3600 }),
  feePercent: fc.integer({ min: 0, max: 10_000 }).map((n) => new Money(n).dividedBy(100)),
});

describe('settleLeasePeriod', () => {
  it('charges the node price for a minute of 8 GPUs when the limit is above it; the provider gets it less the fee', () => {
    const s = settleLeasePeriod(usage());
    // 2.00 x 8 x 60 / 3600 = 0.266666... -> 0.266667
    expect(s.unitPrice.toFixed()).toBe('2');
    expect(s.charge.toFixed(6)).toBe('0.266667');
    expect(s.uplift.toFixed(6)).toBe('0.000000');
    expect(s.fee.toFixed(6)).toBe('0.026667');
    expect(s.payout.toFixed(6)).toBe('0.240000');
  });

  it('a lease over nodes of different prices pays each node its price: the mean, with no uplift', () => {
    const s = settleLeasePeriod(
      usage({
        shares: [
          { gpus: 4, nodePrice: new Money('2.00') },
          { gpus: 4, nodePrice: new Money('3.00') },
        ],
        seconds: 3600,
      }),
    );
    expect(s.unitPrice.toFixed(2)).toBe('2.50');
    expect(s.shares.map((x) => [x.charge.toFixed(2), x.uplift.toFixed(2), x.payout.toFixed(2)])).toEqual([
      ['8.00', '0.00', '7.20'],
      ['12.00', '0.00', '10.80'],
    ]);
  });

  it('never charges more than the limit: the rest of the node price is uplift, and the provider still earns its node price', () => {
    const s = settleLeasePeriod(
      usage({
        limit: new Money('1.50'),
        shares: [{ gpus: 2, nodePrice: new Money('5.00') }],
        seconds: 3600,
        feePercent: new Money(10),
      }),
    );
    expect(s.unitPrice.toFixed(2)).toBe('1.50');
    expect(s.upliftRate.toFixed(2)).toBe('3.50');
    expect(s.charge.toFixed(6)).toBe('3.000000');
    expect(s.uplift.toFixed(6)).toBe('7.000000');
    expect(s.fee.toFixed(6)).toBe('1.000000');
    expect(s.payout.toFixed(6)).toBe('9.000000');
  });

  it('splits a capped lease uplift over its nodes in proportion to what each earned', () => {
    const s = settleLeasePeriod(
      usage({
        limit: new Money('2.00'),
        shares: [
          { gpus: 1, nodePrice: new Money('3.00') },
          { gpus: 1, nodePrice: new Money('1.00') },
          { gpus: 2, nodePrice: new Money('4.00') },
        ],
        seconds: 3600,
      }),
    );
    // mean = (3 + 1 + 8) / 4 = 3.00; the lease pays 2.00 x 4 = 8.00 of the 12.00 earned: uplift 4.00.
    expect(s.charge.toFixed(2)).toBe('8.00');
    expect(s.shares.map((x) => x.uplift.toFixed(6))).toEqual(['1.000000', '0.333333', '2.666667']);
  });

  it('rounds half to even at six decimals', () => {
    // 0.0009 x 1 x 2 / 3600 = 0.0000005 exactly: a tie, goes to the even 0.000000
    expect(
      settleLeasePeriod(usage({ shares: [{ gpus: 1, nodePrice: new Money('0.0009') }], seconds: 2 })).charge.toFixed(6),
    ).toBe('0.000000');
    // 0.0027 x 1 x 2 / 3600 = 0.0000015: ties to 0.000002
    expect(
      settleLeasePeriod(usage({ shares: [{ gpus: 1, nodePrice: new Money('0.0027') }], seconds: 2 })).charge.toFixed(6),
    ).toBe('0.000002');
  });

  it('the unit price is the capped mean rounded half-even to six places (round-files.md)', () => {
    // (2.000001 + 2.000002) / 2 = 2.0000015: ties to the even 2.000002.
    expect(
      leaseUnitPrice(new Money(9), [
        { gpus: 1, nodePrice: new Money('2.000001') },
        { gpus: 1, nodePrice: new Money('2.000002') },
      ]).unitPrice.toFixed(6),
    ).toBe('2.000002');
    expect(
      leaseUnitPrice(new Money('1.9'), [
        { gpus: 1, nodePrice: new Money('2.000001') },
        { gpus: 1, nodePrice: new Money('2.000002') },
      ]),
    ).toEqual({ unitPrice: new Money('1.9'), uplift: new Money('0.100002') });
  });

  it('charges nothing for a lease that did not run in the period', () => {
    const s = settleLeasePeriod(usage({ seconds: 0 }));
    expect(s.charge.isZero() && s.uplift.isZero() && s.fee.isZero() && s.payout.isZero()).toBe(true);
  });

  it.each([
    ['shares', { shares: [] }],
    ['shares', { shares: [{ gpus: 1.5, nodePrice: new Money(1) }] }],
    ['shares', { shares: [{ gpus: 1, nodePrice: new Money(-1) }] }],
    ['seconds', { seconds: -5 }],
    ['limit', { limit: new Money(-1) }],
    ['feePercent', { feePercent: new Money(101) }],
  ] as const)('rejects a bad %s', (field, over) => {
    expect(() => settleLeasePeriod(usage(over as Partial<LeasePeriodUsage>))).toThrow(SettlementInputError);
    try {
      settleLeasePeriod(usage(over as Partial<LeasePeriodUsage>));
    } catch (error) {
      expect((error as SettlementInputError).field).toBe(field);
    }
  });

  it('always balances per share: charge + uplift = gross = payout + fee, exactly, for any input', () => {
    fc.assert(
      fc.property(usageArb, (u) => {
        const s = settleLeasePeriod(u);
        const gpus = u.shares.reduce((t, x) => t + x.gpus, 0);
        for (const share of s.shares) {
          expect(share.charge.plus(share.uplift).equals(share.gross)).toBe(true);
          expect(share.payout.plus(share.fee).equals(share.gross)).toBe(true);
          expect(share.uplift.isNegative() || share.charge.isNegative() || share.payout.isNegative()).toBe(false);
          expect(share.charge.decimalPlaces()).toBeLessThanOrEqual(6);
        }
        expect(s.unitPrice.lessThanOrEqualTo(u.limit)).toBe(true);
        // The tenant never pays more than its limit for the GPU-hours it ran (to the ledger's rounding).
        const atLimit = u.limit.times(gpus).times(u.seconds).dividedBy(3600);
        expect(s.charge.lessThanOrEqualTo(atLimit.plus(new Money('0.000001').times(u.shares.length)))).toBe(true);
        if (s.upliftRate.isZero()) expect(s.uplift.isZero()).toBe(true);
      }),
    );
  });

  it('period totals reconcile: charges + uplift = payouts + fees', () => {
    fc.assert(
      fc.property(fc.array(usageArb, { maxLength: 30 }), (usages) => {
        const { entries, totals } = settlePeriod(usages);
        expect(entries).toHaveLength(usages.length);
        expect(totals.charges.plus(totals.uplift).equals(totals.payouts.plus(totals.fees))).toBe(true);
        expect(totals.uplift.equals(sum(entries.map((e) => e.uplift)))).toBe(true);
      }),
    );
  });

  it("the billing example of docs/finance.md: a notice's last entry charges 3 s up to the confirmed stop, not 20 s to the notice's end", () => {
    const at = (seconds: number) =>
      settleLeasePeriod(
        usage({ limit: new Money('3.00'), shares: [{ gpus: 8, nodePrice: new Money('2.50') }], seconds }),
      );
    const round = at(840);
    expect([round.charge, round.fee, round.payout].map((m) => m.toFixed(6))).toEqual([
      '4.666667',
      '0.466667',
      '4.200000',
    ]);
    const toStop = at(3);
    expect([toStop.charge, toStop.uplift, toStop.fee, toStop.payout].map((m) => m.toFixed(6))).toEqual([
      '0.016667',
      '0.000000',
      '0.001667',
      '0.015000',
    ]);
    expect(toStop.charge.plus(toStop.uplift).equals(toStop.payout.plus(toStop.fee))).toBe(true);
    expect(at(20).charge.minus(toStop.charge).toFixed(6)).toBe('0.094444');
  });
});
