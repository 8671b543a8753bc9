import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { toCsv } from './report-csv.js';

describe('toCsv', () => {
  it('quotes what needs quoting and parses back to the same cells', () => {
    const rows = [{ tenantName: 'Acme, "GPU" Ltd\nBerlin', charges: '1.000000', balanced: true, vwap: null }];
    const text = toCsv({ columns: ['tenantName', 'charges', 'balanced', 'vwap'], rows });
    expect(parse(text, { columns: true })).toEqual([
      { tenantName: 'Acme, "GPU" Ltd\nBerlin', charges: '1.000000', balanced: 'true', vwap: '' },
    ]);
  });

  it('defuses a name a spreadsheet would run as a formula, but keeps the sign of a negative amount', () => {
    const text = toCsv({
      columns: ['providerName', 'difference'],
      rows: [{ providerName: '=HYPERLINK("http://x")', difference: '-0.000001' }],
    });
    expect(parse(text, { columns: true })).toEqual([
      { providerName: `'=HYPERLINK("http://x")`, difference: '-0.000001' },
    ]);
  });
});
