import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobCatalogue, JobName } from './job-catalogue.js';
import {
  isPermanent,
  type EnqueueOptions,
  type HandlerOptions,
  type JobHandler,
  type JobQueue,
  type JobQueueOptions,
  policyFor,
} from './job-queue.js';

/** How often, at most, the job schedules are checked for having been lost from Redis. */
const SCHEDULE_CHECK_MAX_MS = 10_000;

/** BullMQ on Redis: one queue per job name, so each kind of job has its own workers. */
export class BullMqJobQueue implements JobQueue {
  readonly driver = 'bullmq' as const;
  private readonly queues = new Map<JobName, Queue>();
  private readonly workers: Worker[] = [];
  private readonly connections: Redis[] = [];
  private closed = false;
  private readonly registrations: Array<() => Worker> = [];
  private readonly schedules = new Map<JobName, { everyMs: number; payload: unknown }>();
  private scheduleWatch: NodeJS.Timeout | null = null;
  private scheduleCheckMs = Number.POSITIVE_INFINITY;
  // Producers fail fast while Redis is away, so the outbox keeps the row and retries later;
  // workers wait for Redis indefinitely, as BullMQ requires.
  private readonly producer: Redis;

  private readonly prefix: string;
  private readonly log: (message: string) => void;

  constructor(
    private readonly redisUrl: string,
    private readonly options: JobQueueOptions & { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? 'gpumarket';
    this.log = options.log ?? (() => {});
    this.producer = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    this.producer.on('error', () => {});
    // Redis came back (maybe empty, maybe another Redis behind the same address).
    this.producer.on('ready', () => void this.assertSchedules(true));
  }

  private queue(name: JobName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.producer, prefix: this.prefix });
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  async enqueue<N extends JobName>(name: N, payload: JobCatalogue[N], options: EnqueueOptions = {}): Promise<void> {
    await this.queue(name).add(name, payload, this.jobOptions(name, options));
  }

  async enqueueMany(
    jobs: ReadonlyArray<{ name: JobName; payload: JobCatalogue[JobName]; options?: EnqueueOptions }>,
  ): Promise<void> {
    const byName = new Map<JobName, (typeof jobs)[number][]>();
    for (const job of jobs) byName.set(job.name, [...(byName.get(job.name) ?? []), job]);
    for (const [name, group] of byName)
      await this.queue(name).addBulk(
        group.map((job) => ({ name, data: job.payload, opts: this.jobOptions(name, job.options ?? {}) })),
      );
  }

  private jobOptions(name: JobName, options: EnqueueOptions) {
    const policy = policyFor(name, this.options);
    return {
      jobId: options.jobId,
      delay: options.delayMs,
      attempts: policy.attempts,
      backoff: policy.backoffMs > 0 ? { type: 'exponential' as const, delay: policy.backoffMs } : undefined,
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 5000 },
    };
  }

  handle<N extends JobName>(name: N, handler: JobHandler<N>, options: HandlerOptions<N> = {}): void {
    const policy = policyFor(name, this.options);
    this.registrations.push(() => {
      const connection = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
      connection.on('error', () => {});
      this.connections.push(connection);
      const worker = new Worker(
        name,
        async (job: Job) => {
          const attempt = job.attemptsMade + 1;
          const maxAttempts = job.opts.attempts ?? policy.attempts;
          try {
            await handler(job.data as JobCatalogue[N], { attempt, maxAttempts, ...scheduledAt(job) });
          } catch (error) {
            const final = isPermanent(error) || attempt >= maxAttempts;
            if (!final) throw error;
            if (options.onDeadLetter) await options.onDeadLetter(job.data as JobCatalogue[N], error);
            throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
          }
        },
        { connection, prefix: this.prefix, concurrency: options.concurrency ?? 4, autorun: false },
      );
      worker.on('error', (error) => this.log(`worker ${name}: ${error.message}`));
      return worker;
    });
  }

  async repeat<N extends JobName>(name: N, everyMs: number, payload: JobCatalogue[N]): Promise<void> {
    this.schedules.set(name, { everyMs, payload });
    this.watchSchedules();
    // While Redis is away the service still starts; the watch sets the schedule once it answers.
    await this.assertSchedule(name, true);
  }

  /**
   * A job scheduler with a fixed id is one schedule in Redis, however many replicas upsert it,
   * and an upsert of an unchanged schedule keeps its next run. But the schedule lives only in
   * Redis: a Redis restarted without persistence, or flushed, forgets it and rounds would stop
   * until the service restarted. So the schedules are upserted again whenever the connection
   * becomes ready, and checked every few seconds (a FLUSHALL drops no connection).
   */
  private watchSchedules(): void {
    const checkMs = Math.min(
      SCHEDULE_CHECK_MAX_MS,
      ...[...this.schedules.values()].map((s) => Math.max(1_000, s.everyMs)),
    );
    if (this.scheduleWatch && checkMs >= this.scheduleCheckMs) return;
    if (this.scheduleWatch) clearInterval(this.scheduleWatch);
    this.scheduleCheckMs = checkMs;
    this.scheduleWatch = setInterval(() => void this.assertSchedules(false), checkMs);
    this.scheduleWatch.unref();
  }

  private async assertSchedules(force: boolean): Promise<void> {
    for (const name of this.schedules.keys()) await this.assertSchedule(name, force);
  }

  /** Upserts the schedule (always when `force`, else only when Redis has lost it); never throws. */
  private async assertSchedule(name: JobName, force: boolean): Promise<void> {
    const schedule = this.schedules.get(name);
    if (this.closed || !schedule) return;
    const id = `${name}:slots`;
    try {
      if (!force && (await this.queue(name).getJobScheduler(id))) return;
      // Before 17 Dec 2026 the schedule ran every period from whenever it was created, so its
      // runs fell anywhere in a period; that schedule gives way to the aligned one.
      if (force) await this.queue(name).removeJobScheduler(`${name}:every`);
      // `startDate` at a multiple of the period aligns every run to the multiples (BullMQ adds
      // `every` to the last run, and realigns to the multiples after a gap). It counts only when
      // the schedule is created: an upsert of an unchanged schedule keeps its next run.
      const startDate = Math.ceil(Date.now() / schedule.everyMs) * schedule.everyMs;
      await this.queue(name).upsertJobScheduler(
        id,
        { every: schedule.everyMs, startDate },
        { name, data: schedule.payload },
      );
      if (!force) this.log(`the ${name} schedule was missing from Redis (restarted empty or flushed); re-created it`);
    } catch (error) {
      this.log(`cannot schedule ${name} yet (${error instanceof Error ? error.message : String(error)}); retrying`);
    }
  }

  async start(): Promise<void> {
    await this.producer.connect().catch(() => {});
    for (const create of this.registrations.splice(0)) {
      const worker = create();
      this.workers.push(worker);
      void worker.run();
    }
  }

  async ping(): Promise<void> {
    await this.producer.ping();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.scheduleWatch) clearInterval(this.scheduleWatch);
    await Promise.allSettled(this.workers.map((w) => w.close()));
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    // Connections we made are ours to close; BullMQ leaves a connection it was given open.
    for (const connection of this.connections) connection.disconnect();
    this.producer.disconnect();
  }
}

/**
 * The instant a job scheduler's job stands for: BullMQ names the job `repeat:<scheduler>:<ms>`
 * and derives its delay from that instant, so it is the schedule's multiple even when the job
 * runs late behind a backlog or on a worker whose clock differs from Redis's.
 */
function scheduledAt(job: Job): { scheduledAt?: number } {
  if (!job.repeatJobKey) return {};
  const planned = Number(job.id?.slice(job.id.lastIndexOf(':') + 1));
  return {
    scheduledAt: Number.isSafeInteger(planned) && planned > 0 ? planned : job.timestamp + (job.opts.delay ?? 0),
  };
}
