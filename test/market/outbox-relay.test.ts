import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxRelayService } from '../../src/platform/outbox/outbox-relay.service.js';
import { OutboxRepository } from '../../src/platform/outbox/outbox.repository.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('outbox relay on BullMQ', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ REDIS_URL });
  });
  afterAll(() => t?.close());

  it('sets aside a row the queue refuses, with its error, and relays the rows around it', async () => {
    const outbox = t.app.get(OutboxRepository);
    await t.dataSource.transaction((m) =>
      outbox.add(m, [
        { jobName: 'lease.sync', payload: {}, jobId: 'relay-test-before' },
        // BullMQ refuses most custom job ids with a colon: a malformed job, as a bug could write one.
        { jobName: 'lease.sync', payload: {}, jobId: 'relay:bad' },
        { jobName: 'lease.sync', payload: {}, jobId: 'relay-test-after' },
      ]),
    );
    await t.app.get(OutboxRelayService).relay();
    const rows: Array<{ job_id: string; relayed: boolean; failed: boolean; error: string | null }> =
      await t.dataSource.query(
        `SELECT job_id, relayed_at IS NOT NULL AS relayed, failed_at IS NOT NULL AS failed, error FROM outbox WHERE job_id LIKE 'relay%' ORDER BY id`,
      );
    expect(rows.map((r) => [r.job_id, r.relayed, r.failed])).toEqual([
      ['relay-test-before', true, false],
      ['relay:bad', false, true],
      ['relay-test-after', true, false],
    ]);
    expect(rows[1].error).toEqual(expect.any(String));
    // Nothing is left waiting behind it, and later rows go through as usual.
    await t.dataSource.transaction((m) =>
      outbox.add(m, [{ jobName: 'lease.sync', payload: {}, jobId: 'relay-test-later' }]),
    );
    await t.app.get(OutboxRelayService).relay();
    await t.dataSource.transaction(async (m) => expect(await outbox.pendingCount(m)).toBe(0));
  });
});
