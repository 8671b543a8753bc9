import { RETRY_POLICIES, type JobCatalogue, type JobName, type RetryPolicy } from './job-catalogue.js';

export interface EnqueueOptions {
  /** Deduplicates: a job with the same id that is still queued or running is not added again. */
  readonly jobId?: string;
  readonly delayMs?: number;
}

export interface JobContext {
  /** 1 for the first try. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /**
   * For a repeated job: the instant (ms since the epoch) its schedule meant it to run, which
   * may differ from when it runs by the queue's latency or a backlog. Absent for other jobs.
   */
  readonly scheduledAt?: number;
}

export type JobHandler<N extends JobName> = (payload: JobCatalogue[N], context: JobContext) => Promise<void>;

export interface HandlerOptions<N extends JobName> {
  /** Runs once when the job has failed for good (last attempt, or a permanent error). */
  readonly onDeadLetter?: (payload: JobCatalogue[N], error: unknown) => Promise<void>;
  /** How many of these jobs one process runs at once. */
  readonly concurrency?: number;
}

/** A job that must not be retried (the order can never succeed). */
export class PermanentJobError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * The job port. BullMQ on Redis in production; an in-process driver when REDIS_URL is unset.
 * Both run the same handlers with the same retry policy (job-catalogue.ts).
 */
export interface JobQueue {
  readonly driver: 'bullmq' | 'in-process';
  enqueue<N extends JobName>(name: N, payload: JobCatalogue[N], options?: EnqueueOptions): Promise<void>;
  /** Adds many jobs in one round trip where the backend allows it (the outbox relay's batches). */
  enqueueMany(
    jobs: ReadonlyArray<{ name: JobName; payload: JobCatalogue[JobName]; options?: EnqueueOptions }>,
  ): Promise<void>;
  handle<N extends JobName>(name: N, handler: JobHandler<N>, options?: HandlerOptions<N>): void;
  /**
   * Runs `name` every `everyMs`, once per period however many processes ask for it, at the
   * multiples of `everyMs` since the epoch; each run is told the multiple it stands for.
   */
  repeat<N extends JobName>(name: N, everyMs: number, payload: JobCatalogue[N]): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Health check: resolves when the backend answers. */
  ping(): Promise<void>;
}

export interface JobQueueOptions {
  /** Overrides of the catalogue's retry policies (tests use short backoffs). */
  readonly policies?: Partial<Record<JobName, RetryPolicy>>;
  readonly log?: (message: string) => void;
}

export function policyFor(name: JobName, options: JobQueueOptions): RetryPolicy {
  return options.policies?.[name] ?? RETRY_POLICIES[name];
}

export function isPermanent(error: unknown): boolean {
  if (error instanceof PermanentJobError) return true;
  return typeof error === 'object' && error !== null && (error as { kind?: unknown }).kind === 'permanent';
}

export function backoffDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** Math.max(0, attempt - 1);
}
