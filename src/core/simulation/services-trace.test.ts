import { describe, expect, it } from 'vitest';
import {
  parseAzureConversationCsv,
  serviceMillis,
  ServicesTraceFormatError,
  shapeDemand,
  type AzureRequestRow,
} from './services-trace.js';

const CSV = `TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:46.9000000,10,2
`;

describe('parseAzureConversationCsv', () => {
  it('reads conv.csv rows as offsets from the first request, in arrival order', () => {
    expect(parseAzureConversationCsv(CSV)).toEqual([
      { offsetMs: 0, contextTokens: 374, generatedTokens: 44 },
      { offsetMs: 220, contextTokens: 10, generatedTokens: 2 },
      { offsetMs: 4315, contextTokens: 396, generatedTokens: 109 },
    ]);
  });

  it.each([
    ['a missing column', 'TIMESTAMP,ContextTokens\n2023-11-16 18:15:46.1,3\n', /missing column GeneratedTokens/],
    ['a bad timestamp', 'TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n', /conv.csv:2: TIMESTAMP/],
    ['a negative count', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,-1,2\n', /ContextTokens/],
  ])('refuses %s, naming the line', (_, text, message) => {
    expect(() => parseAzureConversationCsv(text)).toThrow(ServicesTraceFormatError);
    expect(() => parseAzureConversationCsv(text)).toThrow(message);
  });
});

describe('serviceMillis', () => {
  it('is base + prefill x context + decode x generated', () => {
    const model = { baseSeconds: 0.05, prefillSecondsPerToken: 0.0002, decodeSecondsPerToken: 0.02 };
    expect(serviceMillis({ offsetMs: 0, contextTokens: 1000, generatedTokens: 100 }, model)).toBe(50 + 200 + 2000);
    expect(serviceMillis({ offsetMs: 0, contextTokens: 0, generatedTokens: 0 }, { ...model, baseSeconds: 0 })).toBe(1);
  });
});

const rows = (offsets: number[]): AzureRequestRow[] =>
  offsets.map((offsetMs) => ({ offsetMs, contextTokens: 0, generatedTokens: 50 }));

describe('shapeDemand', () => {
  it.each([
    {
      name: 'time scale only (one window, no gap)',
      offsets: [0, 1000, 2500],
      shape: { timeScale: 2, windowSeconds: 0, gapSeconds: 0, traceSeconds: null },
      arrivals: [0, 2000, 5000],
      horizonMs: 5002,
      windows: 1,
    },
    {
      name: 'windows of 2 trace seconds, stretched 3x, 10 s of silence after each',
      offsets: [0, 1500, 2000, 3999, 4000],
      shape: { timeScale: 3, windowSeconds: 2, gapSeconds: 10, traceSeconds: null },
      arrivals: [0, 4500, 16_000, 21_997, 32_000],
      horizonMs: 3 * 16_000,
      windows: 3,
    },
    {
      name: 'only the first trace seconds',
      offsets: [0, 1000, 5000],
      shape: { timeScale: 1, windowSeconds: 1, gapSeconds: 1, traceSeconds: 2 },
      arrivals: [0, 2000],
      horizonMs: 4000,
      windows: 2,
    },
  ])('$name', ({ offsets, shape, arrivals, horizonMs, windows }) => {
    const demand = shapeDemand(rows(offsets), shape);
    expect(demand.requests.map((r) => r.arrivalMs)).toEqual(arrivals);
    expect(demand.horizonMs).toBe(horizonMs);
    expect(demand.windows).toBe(windows);
    // The silence is real: nothing arrives in the last gap.
    expect(Math.max(...demand.requests.map((r) => r.arrivalMs))).toBeLessThan(
      demand.horizonMs - shape.gapSeconds * 1000,
    );
  });
});
