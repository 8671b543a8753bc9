import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BullMqJobQueue } from './bullmq-job-queue.js';
import { InProcessJobQueue } from './in-process-job-queue.js';
import { PermanentJobError, type JobQueue, type JobQueueOptions } from './job-queue.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const policies: JobQueueOptions['policies'] = {
  'order.dispatch': { attempts: 3, backoffMs: 50 },
  'round.clear': { attempts: 1, backoffMs: 0 },
};

const drivers: Array<[string, (prefix: string) => JobQueue]> = [
  ['bullmq', (prefix) => new BullMqJobQueue(REDIS_URL, { policies, prefix })],
  ['in-process', () => new InProcessJobQueue({ policies })],
];

function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(check, 20);
    };
    check();
  });
}

describe.each(drivers)('%s job queue', (_name, create) => {
  const opened: JobQueue[] = [];
  const open = (prefix: string) => {
    const queue = create(prefix);
    opened.push(queue);
    return queue;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
  });

  it('runs the handler with the payload', async () => {
    const queue = open(`t-${randomUUID()}`);
    const seen: string[] = [];
    queue.handle('order.dispatch', async ({ orderId }) => {
      seen.push(orderId);
    });
    await queue.start();
    await queue.enqueue('order.dispatch', { orderId: 'o-1' });
    await until(() => seen.length === 1);
    expect(seen).toEqual(['o-1']);
  });

  it('retries a failing job with backoff until it succeeds', async () => {
    const queue = open(`t-${randomUUID()}`);
    const attempts: number[] = [];
    let deadLettered = 0;
    queue.handle(
      'order.dispatch',
      async (_payload, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error('controller busy');
      },
      { onDeadLetter: async () => void deadLettered++ },
    );
    await queue.start();
    await queue.enqueue('order.dispatch', { orderId: 'o-2' });
    await until(() => attempts.length === 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(attempts).toEqual([1, 2, 3]);
    expect(deadLettered).toBe(0);
  });

  it('dead-letters once after the last attempt', async () => {
    const queue = open(`t-${randomUUID()}`);
    let tries = 0;
    const deadLetters: Array<{ orderId: string; message: string }> = [];
    queue.handle(
      'order.dispatch',
      async () => {
        tries++;
        throw new Error('still failing');
      },
      {
        onDeadLetter: async ({ orderId }, error) =>
          void deadLetters.push({ orderId, message: (error as Error).message }),
      },
    );
    await queue.start();
    await queue.enqueue('order.dispatch', { orderId: 'o-3' });
    await until(() => deadLetters.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(tries).toBe(3);
    expect(deadLetters).toEqual([{ orderId: 'o-3', message: 'still failing' }]);
  });

  it('dead-letters a permanent error without retrying', async () => {
    const queue = open(`t-${randomUUID()}`);
    let tries = 0;
    let deadLettered = 0;
    queue.handle(
      'order.dispatch',
      async () => {
        tries++;
        throw new PermanentJobError('unknown node');
      },
      { onDeadLetter: async () => void deadLettered++ },
    );
    await queue.start();
    await queue.enqueue('order.dispatch', { orderId: 'o-4' });
    await until(() => deadLettered === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(tries).toBe(1);
  });

  it('adds a batch in one call, each job once', async () => {
    const queue = open(`t-${randomUUID()}`);
    const seen: string[] = [];
    queue.handle('order.dispatch', async ({ orderId }) => void seen.push(orderId));
    await queue.start();
    const jobs = ['a', 'b', 'c', 'a'].map((orderId) => ({
      name: 'order.dispatch' as const,
      payload: { orderId },
      options: { jobId: orderId, delayMs: 100 },
    }));
    await queue.enqueueMany(jobs);
    await until(() => seen.length >= 3);
    await new Promise((r) => setTimeout(r, 400));
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });

  it('does not add a job whose id is already queued', async () => {
    const queue = open(`t-${randomUUID()}`);
    let runs = 0;
    queue.handle('order.dispatch', async () => void runs++);
    await queue.enqueue('order.dispatch', { orderId: 'o-5' }, { jobId: 'o-5', delayMs: 200 });
    await queue.enqueue('order.dispatch', { orderId: 'o-5' }, { jobId: 'o-5', delayMs: 200 });
    await queue.start();
    await until(() => runs >= 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(runs).toBe(1);
  });
});

describe('bullmq repeat', () => {
  it('runs a repeated job once per period however many processes schedule it', async () => {
    const prefix = `t-${randomUUID()}`;
    const replicas = [
      new BullMqJobQueue(REDIS_URL, { policies, prefix }),
      new BullMqJobQueue(REDIS_URL, { policies, prefix }),
    ];
    const runs: number[] = [];
    try {
      for (const replica of replicas) {
        replica.handle('round.clear', async () => void runs.push(Date.now()));
        await replica.repeat('round.clear', 400, {});
        await replica.start();
      }
      await new Promise((r) => setTimeout(r, 2_100));
      // 2.1 s at one run per 400 ms: five or six runs, where two schedules would give about ten.
      expect(runs.length).toBeGreaterThanOrEqual(4);
      expect(runs.length).toBeLessThanOrEqual(6);
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });
});

describe.each(drivers)('%s repeat', (_name, create) => {
  it('runs at the multiples of the period and tells each run the multiple it stands for', async () => {
    const queue = create(`t-${randomUUID()}`);
    const runs: Array<{ scheduledAt?: number; ranAt: number }> = [];
    try {
      queue.handle(
        'round.clear',
        async (_payload, context) => void runs.push({ scheduledAt: context.scheduledAt, ranAt: Date.now() }),
      );
      await queue.repeat('round.clear', 300, {});
      await queue.start();
      await until(() => runs.length >= 3);
    } finally {
      await queue.close();
    }
    for (const run of runs) {
      expect(run.scheduledAt! % 300).toBe(0);
      // Never before its instant by more than clock jitter, and never labelled by a later one.
      expect(run.ranAt).toBeGreaterThanOrEqual(run.scheduledAt! - 50);
    }
    const slots = runs.map((r) => r.scheduledAt!);
    expect(new Set(slots).size).toBe(slots.length);
  });
});
