import { describe, expect, it } from 'vitest';
import { describeError, ApiError } from './tenant-errors.js';
import {
  bidsTable,
  chargesTable,
  formatDuration,
  pricesTable,
  quoteTables,
  renderTable,
  type BidView,
  type QuoteOptionView,
} from './tenant-tables.js';

const bid: BidView = {
  id: 'b-1',
  status: 'open',
  gpus: 8,
  offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' }],
  contiguity: 'node',
  preemptible: false,
  runtimeSeconds: 5400,
  remainingSeconds: 5400,
  window: null,
  regions: [],
  compliance: [],
  minGpuMemoryGb: 0,
  workload: {},
  lastLossReason: 'outbid',
  idempotencyKey: 'k',
  createdAt: '2026-12-06T12:00:00.123Z',
  updatedAt: '2026-12-06T12:00:00.123Z',
};

describe('tenant CLI tables', () => {
  it('aligns columns, numbers on the right, with no trailing spaces', () => {
    const text = renderTable(
      [
        { title: 'NAME', value: (r: { name: string; n: number }) => r.name },
        { title: 'N', value: (r) => String(r.n), right: true },
      ],
      [
        { name: 'a', n: 10 },
        { name: 'long-name', n: 7 },
      ],
    );
    expect(text).toBe('NAME        N\na          10\nlong-name   7\n');
  });

  it('writes durations in the units a person types', () => {
    expect([0, 45, 90, 5400, 14_400, 90_000].map(formatDuration)).toEqual([
      '0s',
      '45s',
      '1m30s',
      '1h30m',
      '4h',
      '1d1h',
    ]);
  });

  it('lists bids a line each with offers, run time and why it last lost', () => {
    const lines = bidsTable([bid]).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+GPUS\s+OFFERS/);
    expect(lines[1]).toMatch(
      /^b-1\s+open\s+8\s+H100-SXM-80GB<=2\.50\s+node\s+no\s+1h30m\s+1h30m\s+-\s+outbid\s+2026-12-06T12:00:00Z$/,
    );
    expect(bidsTable([])).toBe('no bids\n');
  });

  it('prints every quote option with its price to win, marks the requested one and says why an option loses', () => {
    const option = (overrides: Partial<QuoteOptionView>): QuoteOptionView => ({
      contiguity: 'node',
      preemptible: false,
      timing: 'now',
      requested: false,
      priceToWin: '2.000000',
      unitPrice: '2.000000',
      cost: '16.000000',
      priceIsFloor: false,
      wouldWin: true,
      reason: null,
      basis: 'node_prices',
      ...overrides,
    });
    const text = quoteTables({
      gpus: 8,
      runtimeSeconds: 3600,
      wouldWinNow: true,
      prices: { basis: 'node_prices', roundId: 'r-1', periodStart: '2026-12-06T12:00:00Z', preemptionPenalty: '0.50' },
      offers: [
        {
          gpuModel: 'H100-SXM-80GB',
          maxPrice: '2.50',
          wouldWinNow: true,
          options: [
            option({ requested: true }),
            option({ preemptible: true, priceIsFloor: true, priceToWin: '1.500000' }),
            option({
              contiguity: 'block',
              priceToWin: null,
              unitPrice: null,
              cost: null,
              wouldWin: false,
              reason: 'no_capacity_for_contiguity',
            }),
          ],
        },
      ],
    });
    expect(text).toContain(
      '8 GPU(s) for 1h; node prices of round r-1 (2026-12-06T12:00:00Z); preemption penalty 0.50/GPU-hour',
    );
    expect(text).toMatch(/H100-SXM-80GB at most 2\.50\/GPU-hour \(wins now: yes\)/);
    expect(text).toMatch(/^\*\s+node\s+no\s+now\s+2\.000000\s+2\.000000\s+16\.000000\s+yes\s+-\s+node_prices$/m);
    expect(text).toMatch(/^\s+node\s+yes\s+now\s+>=1\.500000/m);
    expect(text).toMatch(/^\s+block\s+no\s+now\s+-\s+-\s+-\s+no\s+no_capacity_for_contiguity/m);
  });

  it('shows each pool index with its node-price band, and a dash before a pool is priced', () => {
    const pool = {
      gpuModel: 'H100-SXM-80GB',
      region: 'eu-west',
      price: '2.20',
      roundId: 'r',
      periodStart: '2026-12-06T12:00:00Z',
      marginalBidPrice: '2.20',
      supplyGpus: 8,
      freeGpus: 0,
      reserveFloor: '1.50',
    };
    const text = pricesTable([
      { ...pool, nodePrices: { min: '2.20', median: '2.40', max: '3.00' } },
      {
        ...pool,
        region: 'us-east',
        price: null,
        roundId: null,
        periodStart: null,
        marginalBidPrice: null,
        nodePrices: null,
      },
    ]);
    expect(text).toMatch(
      /^H100-SXM-80GB\s+eu-west\s+2\.20\s+2\.20 \/ 2\.40 \/ 3\.00\s+2\.20\s+1\.50\s+8\s+0\s+2026-12-06T12:00:00Z$/m,
    );
    expect(text).toMatch(/^H100-SXM-80GB\s+us-east\s+-\s+-\s+-\s+1\.50\s+8\s+0\s+-$/m);
  });

  it('ends the charges with the total over the range, and says when entries were cut by --limit', () => {
    const entry = {
      leaseId: 'l-1',
      gpuModel: 'H100',
      region: 'eu',
      periodStart: '2026-12-06T12:00:00Z',
      periodEnd: '2026-12-06T12:01:00Z',
      gpus: 8,
      unitPrice: '2.00',
      charge: '0.266667',
    };
    const text = chargesTable({ from: null, to: null, entries: [entry], totals: { charges: '0.533334', count: 2 } });
    expect(text).toMatch(/l-1\s+H100\s+eu\s+8\s+2\.00\s+0\.266667\n/);
    expect(text).toContain(
      'total charges 0.533334 over 2 entries, the beginning to now (newest 1 shown; --limit for more)',
    );
  });

  it("names the API's field and rule for a refused request", () => {
    const error = new ApiError(400, {
      error: 'validation_failed',
      message: '1 field(s) failed validation',
      details: [{ field: 'offers[0].maxPrice', rule: 'max_decimals', message: 'at most 4 decimals' }],
      requestId: 'req-1',
    });
    expect(describeError(error)).toBe(
      'the API answered 400 validation_failed: 1 field(s) failed validation\n  field offers[0].maxPrice: rule max_decimals (at most 4 decimals)\n  request id req-1',
    );
  });
});
