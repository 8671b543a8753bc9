/**
 * Time ranges and buckets of the finance reports. Buckets are fixed lengths counted from the Unix
 * epoch, so every boundary is a whole UTC minute, hour or day whatever the server's time zone.
 * A range is half-open, [from, to): a row on a boundary belongs to exactly one side of it.
 */
export const BUCKETS = ['1m', '1h', '1d'] as const;
export type Bucket = (typeof BUCKETS)[number];

export const BUCKET_SECONDS: Readonly<Record<Bucket, number>> = { '1m': 60, '1h': 3600, '1d': 86_400 };

/** Beyond this many buckets per pool a report is refused rather than built and shipped slowly. */
export const MAX_BUCKETS = 10_000;

export interface RangeProblem {
  readonly field: 'from' | 'to' | 'bucket';
  readonly rule: 'after_from' | 'max_span' | 'too_many_buckets';
  readonly message: string;
}

export interface ReportRange {
  readonly from: Date;
  readonly to: Date;
}

const DAY_MS = 86_400_000;

/** The start of the bucket holding `instant`. */
export function bucketStart(instant: Date, bucket: Bucket): Date {
  const size = BUCKET_SECONDS[bucket] * 1000;
  return new Date(Math.floor(instant.getTime() / size) * size);
}

/**
 * Fills in a missing end (now) and start (one day before the end), then checks the range:
 * from before to, no longer than `maxSpanDays`, and at most MAX_BUCKETS buckets when bucketed.
 */
export function resolveRange(
  input: { from?: Date; to?: Date; bucket?: Bucket },
  now: Date,
  maxSpanDays: number,
): { range: ReportRange; problems: RangeProblem[] } {
  const to = input.to ?? now;
  const from = input.from ?? new Date(to.getTime() - DAY_MS);
  const problems: RangeProblem[] = [];
  const span = to.getTime() - from.getTime();
  if (span <= 0) problems.push({ field: 'to', rule: 'after_from', message: 'to must be after from' });
  else if (span > maxSpanDays * DAY_MS) {
    problems.push({ field: 'to', rule: 'max_span', message: `the range may span at most ${maxSpanDays} days` });
  } else if (input.bucket !== undefined) {
    const buckets =
      (bucketStart(new Date(to.getTime() - 1), input.bucket).getTime() - bucketStart(from, input.bucket).getTime()) /
        (BUCKET_SECONDS[input.bucket] * 1000) +
      1;
    if (buckets > MAX_BUCKETS) {
      problems.push({
        field: 'bucket',
        rule: 'too_many_buckets',
        message: `${buckets} buckets of ${input.bucket}; at most ${MAX_BUCKETS}: choose a larger bucket or a shorter range`,
      });
    }
  }
  return { range: { from, to }, problems };
}
