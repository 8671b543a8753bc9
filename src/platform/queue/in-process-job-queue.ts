import type { JobCatalogue, JobName } from './job-catalogue.js';
import {
  backoffDelay,
  isPermanent,
  type EnqueueOptions,
  type HandlerOptions,
  type JobHandler,
  type JobQueue,
  type JobQueueOptions,
  policyFor,
} from './job-queue.js';

interface Registration {
  handler: JobHandler<JobName>;
  options: HandlerOptions<JobName>;
}

/**
 * Jobs in this process, for a service started without Redis. Same handlers, same retry policy
 * and dead-lettering as BullMQ; what it cannot give is durability across a restart, which the
 * outbox covers: unrelayed rows are relayed again at start-up.
 */
export class InProcessJobQueue implements JobQueue {
  readonly driver = 'in-process' as const;
  private readonly handlers = new Map<JobName, Registration>();
  private readonly pendingIds = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private started = false;
  private closed = false;
  private readonly backlog: Array<() => void> = [];

  private readonly log: (message: string) => void;

  constructor(private readonly options: JobQueueOptions = {}) {
    this.log = options.log ?? (() => {});
  }

  async enqueue<N extends JobName>(name: N, payload: JobCatalogue[N], options: EnqueueOptions = {}): Promise<void> {
    if (this.closed) throw new Error('job queue is closed');
    const key = options.jobId ? `${name}:${options.jobId}` : undefined;
    if (key) {
      if (this.pendingIds.has(key)) return;
      this.pendingIds.add(key);
    }
    this.schedule(() => this.run(name, payload, 1, key), options.delayMs ?? 0);
  }

  async enqueueMany(
    jobs: ReadonlyArray<{ name: JobName; payload: JobCatalogue[JobName]; options?: EnqueueOptions }>,
  ): Promise<void> {
    for (const job of jobs) await this.enqueue(job.name, job.payload, job.options);
  }

  handle<N extends JobName>(name: N, handler: JobHandler<N>, options: HandlerOptions<N> = {}): void {
    this.handlers.set(name, {
      handler: handler as JobHandler<JobName>,
      options: options as HandlerOptions<JobName>,
    });
  }

  async repeat<N extends JobName>(name: N, everyMs: number, payload: JobCatalogue[N]): Promise<void> {
    // Ticks at the multiples of everyMs since the epoch, as BullMQ's `every` schedules do, each
    // run told which multiple it stands for. A tick whose previous run is still going is dropped
    // (the handler finds that multiple unrun when the next one comes).
    const key = `${name}:repeat`;
    const tick = (slot: number): void => {
      if (this.closed) return;
      if (!this.pendingIds.has(key)) {
        this.pendingIds.add(key);
        this.run(name, payload, 1, key, slot);
      }
      // After a stall (a suspended laptop) the next tick is the latest multiple due, not each one.
      const next = Math.max(slot + everyMs, Math.floor(Date.now() / everyMs) * everyMs);
      this.schedule(() => tick(next), Math.max(0, next - Date.now()));
    };
    const first = Math.floor(Date.now() / everyMs) * everyMs + everyMs;
    this.schedule(() => tick(first), first - Date.now());
  }

  async start(): Promise<void> {
    this.started = true;
    for (const run of this.backlog.splice(0)) run();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private schedule(run: () => void, delayMs: number): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.started) run();
      else this.backlog.push(run);
    }, delayMs);
    this.timers.add(timer);
  }

  private run(
    name: JobName,
    payload: JobCatalogue[JobName],
    attempt: number,
    key?: string,
    scheduledAt?: number,
  ): void {
    const registration = this.handlers.get(name);
    if (!registration) {
      this.log(`no handler for job ${name}; dropped`);
      if (key) this.pendingIds.delete(key);
      return;
    }
    const policy = policyFor(name, this.options);
    const maxAttempts = policy.attempts;
    const task = (async () => {
      try {
        await registration.handler(payload, {
          attempt,
          maxAttempts,
          ...(scheduledAt === undefined ? {} : { scheduledAt }),
        });
        if (key) this.pendingIds.delete(key);
      } catch (error) {
        if (!isPermanent(error) && attempt < maxAttempts && !this.closed) {
          this.schedule(
            () => this.run(name, payload, attempt + 1, key, scheduledAt),
            backoffDelay(policy.backoffMs, attempt),
          );
          return;
        }
        if (key) this.pendingIds.delete(key);
        this.log(`job ${name} failed for good: ${error instanceof Error ? error.message : String(error)}`);
        await registration.options.onDeadLetter?.(payload, error).catch((deadLetterError: unknown) => {
          this.log(`dead-letter handler for ${name} failed: ${String(deadLetterError)}`);
        });
      }
    })();
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }
}
