import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/service-process.js';
import { redisAnswers as answers, startRedis as start } from '../support/redis-server.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const startRedis = () => start(port);
const redisAnswers = () => answers(port);

/**
 * The market's clock is two BullMQ job schedulers (round.clear, lease.sync) kept in Redis. A
 * Redis that loses its data (restarted without persistence, flushed) loses them; the service
 * must put them back by itself. A Redis of this file's own: flushing or stopping it disturbs
 * no other test run.
 */
let port = 0;
let redis: ChildProcess | undefined;

describe('job schedules when Redis loses its data', () => {
  let t: TestApp;
  const committed = async (): Promise<number> =>
    (await t.dataSource.query(`SELECT count(*)::int AS n FROM rounds WHERE state = 'committed'`))[0].n;
  const roundsResume = async (what: string) => {
    const before = await committed();
    await until(`rounds to resume after ${what}`, async () => (await committed()) >= before + 2, 25_000);
  };

  beforeAll(async () => {
    port = await freePort();
    redis = startRedis();
    await until('redis to start', redisAnswers);
    t = await createTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, ROUND_PERIOD_SECONDS: '1' });
    await roundsResume('start-up');
  });
  afterAll(async () => {
    await t?.close();
    redis?.kill('SIGKILL');
  });

  it('re-creates the schedules after FLUSHALL, without a restart of the service', { timeout: 60_000 }, async () => {
    const client = new Redis(port, '127.0.0.1');
    try {
      await client.flushall();
      expect(await client.keys('*:round.clear:repeat*')).toEqual([]);
    } finally {
      client.disconnect();
    }
    await roundsResume('FLUSHALL');
  });

  it(
    're-creates the schedules when Redis restarts empty, without a restart of the service',
    { timeout: 60_000 },
    async () => {
      redis!.kill('SIGKILL');
      await until('redis to stop', async () => !(await redisAnswers()));
      await new Promise((r) => setTimeout(r, 2_000));
      redis = startRedis();
      await until('redis to restart', redisAnswers);
      await roundsResume('an empty restart');
    },
  );
});
