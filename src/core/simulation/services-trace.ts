/**
 * Demand for the services scenario: the Azure LLM inference trace 2023 (conversation service,
 * conv.csv: TIMESTAMP, ContextTokens, GeneratedTokens), time-scaled and cut into windows with
 * silence between them, and a service time per request from its token counts.
 *
 * The trace is dense (about 5.5 requests a second for an hour, never more than 5 s apart), so
 * replayed as it is a service would never be idle and scale to zero would never happen. The
 * replay takes it `windowSeconds` of trace at a time, stretches each window by `timeScale`, and
 * puts `gapSeconds` of silence after each: the requests, their order and their bursts within a
 * window are the trace's.
 */

export interface AzureRequestRow {
  /** Milliseconds after the first request of the file. */
  readonly offsetMs: number;
  readonly contextTokens: number;
  readonly generatedTokens: number;
}

export class ServicesTraceFormatError extends Error {}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

function timestampMs(text: string, where: string): number {
  const m = TIMESTAMP.exec(text.trim());
  if (!m) throw new ServicesTraceFormatError(`${where}: TIMESTAMP "${text}" is not "YYYY-MM-DD hh:mm:ss.fffffff"`);
  const millis = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + millis;
}

/** conv.csv as text; rows in arrival order (a file out of order is sorted, ties keep file order). */
export function parseAzureConversationCsv(text: string, file = 'conv.csv'): AzureRequestRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const header = lines[0].split(',').map((c) => c.trim());
  const column = (name: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw new ServicesTraceFormatError(`${file}: missing column ${name}`);
    return index;
  };
  const [ts, context, generated] = [column('TIMESTAMP'), column('ContextTokens'), column('GeneratedTokens')];
  const count = (value: string | undefined, where: string, name: string) => {
    const n = Number(value);
    if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < 0)
      throw new ServicesTraceFormatError(`${where}: ${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
  const parsed = lines.slice(1).map((line, i) => {
    const cells = line.split(',');
    const where = `${file}:${i + 2}`;
    return {
      at: timestampMs(cells[ts] ?? '', where),
      contextTokens: count(cells[context], where, 'ContextTokens'),
      generatedTokens: count(cells[generated], where, 'GeneratedTokens'),
    };
  });
  const sorted = parsed.map((row, i) => ({ row, i })).sort((a, b) => a.row.at - b.row.at || a.i - b.i);
  const first = sorted.length > 0 ? sorted[0].row.at : 0;
  return sorted.map(({ row }) => ({
    offsetMs: row.at - first,
    contextTokens: row.contextTokens,
    generatedTokens: row.generatedTokens,
  }));
}

/**
 * Seconds a replica takes to answer one request, while it carries at most its concurrency limit
 * (continuous batching: requests in one batch do not slow each other down in this model):
 *   baseSeconds + prefillSecondsPerToken x ContextTokens + decodeSecondsPerToken x GeneratedTokens
 * Defaults: 50 ms overhead, prefill at 5,000 prompt tokens/s, decode at 50 generated tokens/s per
 * request (an 8B-class model on one H100).
 */
export interface ServiceTimeModel {
  readonly baseSeconds: number;
  readonly prefillSecondsPerToken: number;
  readonly decodeSecondsPerToken: number;
}

export const DEFAULT_SERVICE_TIME: ServiceTimeModel = {
  baseSeconds: 0.05,
  prefillSecondsPerToken: 0.0002,
  decodeSecondsPerToken: 0.02,
};

export function serviceMillis(row: AzureRequestRow, model: ServiceTimeModel): number {
  const seconds =
    model.baseSeconds +
    model.prefillSecondsPerToken * row.contextTokens +
    model.decodeSecondsPerToken * row.generatedTokens;
  return Math.max(1, Math.round(seconds * 1000));
}

export interface DemandShape {
  /** A trace second lasts timeScale replay seconds (2: half the request rate, bursts twice as long). */
  readonly timeScale: number;
  /** Trace seconds per window (0 or at least the trace: one window, no cutting). */
  readonly windowSeconds: number;
  /** Replay seconds of silence after each window (also after the last, so the run ends idle). */
  readonly gapSeconds: number;
  /** Trace seconds used from the start of the file (null: all of it). */
  readonly traceSeconds: number | null;
}

export interface ServiceRequest {
  readonly id: number;
  /** Replay milliseconds. */
  readonly arrivalMs: number;
  readonly serviceMs: number;
}

export interface ServiceDemand {
  readonly requests: readonly ServiceRequest[];
  /** End of the replay: the last window's end plus its gap. */
  readonly horizonMs: number;
  readonly windows: number;
  readonly traceSecondsUsed: number;
}

export function shapeDemand(
  rows: readonly AzureRequestRow[],
  shape: DemandShape,
  model: ServiceTimeModel = DEFAULT_SERVICE_TIME,
): ServiceDemand {
  if (!(shape.timeScale > 0)) throw new RangeError('timeScale must be positive');
  const limitMs = shape.traceSeconds === null ? Infinity : shape.traceSeconds * 1000;
  const used = rows.filter((r) => r.offsetMs < limitMs);
  const spanMs = used.length === 0 ? 0 : Math.min(limitMs, used[used.length - 1].offsetMs + 1);
  const windowMs = shape.windowSeconds > 0 ? Math.min(shape.windowSeconds * 1000, Math.max(spanMs, 1)) : spanMs;
  const windows = used.length === 0 ? 0 : Math.max(1, Math.ceil(spanMs / Math.max(windowMs, 1)));
  const stride = Math.round(windowMs * shape.timeScale) + Math.round(shape.gapSeconds * 1000);
  const requests = used.map((row, id) => {
    const window = Math.min(windows - 1, Math.floor(row.offsetMs / Math.max(windowMs, 1)));
    const within = row.offsetMs - window * windowMs;
    return {
      id,
      arrivalMs: window * stride + Math.round(within * shape.timeScale),
      serviceMs: serviceMillis(row, model),
    };
  });
  return { requests, horizonMs: windows * stride, windows, traceSecondsUsed: spanMs / 1000 };
}
