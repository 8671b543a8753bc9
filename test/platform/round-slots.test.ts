import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoundService, slotOf } from '../../src/modules/market/round.service.js';
import { buildService, startService, type ServiceProcess } from '../support/service-process.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { until } from '../support/until.js';

/**
 * Every slot of the round schedule (each multiple of the period) gets exactly one round or a
 * recorded miss with its reason: never two rounds, never a silent gap, and a round carries the
 * label of the slot it was scheduled for whenever its job happens to run.
 */

interface SlotRow {
  readonly slot: number;
  readonly rounds: number;
  readonly missed: string[];
}

/** Each slot from the first round to the last, with its rounds and the misses that cover it. */
async function slotsOf(
  query: (text: string) => Promise<Array<Record<string, any>>>,
  periodMs: number,
): Promise<SlotRow[]> {
  const rounds = await query(`SELECT (extract(epoch FROM period_start) * 1000)::bigint AS at FROM rounds`);
  const misses = await query(
    `SELECT (extract(epoch FROM first_slot) * 1000)::bigint AS first, (extract(epoch FROM last_slot) * 1000)::bigint AS last, reason FROM missed_round_slots`,
  );
  const at = rounds.map((r) => Number(r.at));
  if (at.length === 0) return [];
  const rows: SlotRow[] = [];
  for (let slot = Math.min(...at); slot <= Math.max(...at); slot += periodMs)
    rows.push({
      slot,
      rounds: at.filter((a) => a === slot).length,
      missed: misses.filter((m) => Number(m.first) <= slot && slot <= Number(m.last)).map((m) => m.reason as string),
    });
  return rows;
}

/** Slots with two rounds, with neither a round nor a miss, or with both: none is allowed. */
function unaccounted(rows: readonly SlotRow[]): SlotRow[] {
  return rows.filter((r) => r.rounds + r.missed.length !== 1);
}

describe('round slots, in the service', () => {
  let t: TestApp;
  let rounds: RoundService;
  const PERIOD_MS = 60_000;
  const base = Date.UTC(2040, 0, 1);
  const query = (text: string) => t.dataSource.query(text) as Promise<Array<Record<string, any>>>;

  beforeAll(async () => {
    t = await createTestApp({ ROUND_PERIOD_SECONDS: '60' });
    rounds = t.app.get(RoundService);
  });
  afterAll(async () => t?.close());

  it('labels a round by its slot, even when its job runs just before the boundary or well into the period', () => {
    expect(slotOf(base + 5 * PERIOD_MS - 63, 60).getTime()).toBe(base + 5 * PERIOD_MS);
    expect(slotOf(base + 5 * PERIOD_MS + 20_000, 60).getTime()).toBe(base + 5 * PERIOD_MS);
  });

  it('records the slots nobody ran and a slot whose job came after the next slot began, and never runs a slot twice', async () => {
    const at = (k: number, lateMs = 0) => ({
      scheduledAt: base + k * PERIOD_MS - 63,
      now: new Date(base + k * PERIOD_MS + lateMs),
    });
    const run = (k: number, lateMs = 0) => rounds.runScheduled(at(k, lateMs).scheduledAt, at(k, lateMs).now);

    const first = await run(0);
    expect(first?.periodStart).toBe(new Date(base).toISOString());
    // Slots 1-3 got no job at all (the service was down); slot 4's round finds and records them.
    expect((await run(4))?.periodStart).toBe(new Date(base + 4 * PERIOD_MS).toISOString());
    // Slot 5's job comes 70 s late, after slot 6 began: recorded as late, not cleared.
    expect(await run(5, 70_000)).toBeNull();
    // A second job for a slot (another replica, a retried job) does nothing, nor does one for a missed slot.
    expect(await run(4)).toBeNull();
    expect(await run(2)).toBeNull();
    expect(await run(6)).not.toBeNull();

    const rows = (await slotsOf(query, PERIOD_MS)).filter((r) => r.slot >= base);
    expect(unaccounted(rows)).toEqual([]);
    expect(rows.map((r) => (r.rounds ? 'round' : r.missed[0]))).toEqual([
      'round',
      'not_run',
      'not_run',
      'not_run',
      'round',
      'late',
      'round',
    ]);
    const missed = await rounds.missedSlots(10);
    expect(missed.map((m) => [m.firstSlot.getTime(), m.slots, m.reason])).toEqual([
      [base + 5 * PERIOD_MS, 1, 'late'],
      [base + PERIOD_MS, 3, 'not_run'],
    ]);
  });

  it('gives a slot one round when two replicas claim it at once', async () => {
    const scheduledAt = base + 100 * PERIOD_MS;
    const now = new Date(scheduledAt + 5);
    const results = await Promise.all([rounds.runScheduled(scheduledAt, now), rounds.runScheduled(scheduledAt, now)]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const rows = await query(
      `SELECT count(*)::int AS n FROM rounds WHERE period_start = '${new Date(scheduledAt).toISOString()}'`,
    );
    expect(rows[0]!.n).toBe(1);
  });
});

/**
 * The schedule as operators run it: `gpumarket serve` processes on one PostgreSQL and Redis.
 * The issue asks for 5 s periods over 2 minutes; CI runs 2 s periods over 30 s per phase with
 * the same assertions (ROUND_SLOTS_PERIOD_SECONDS and ROUND_SLOTS_PHASE_SECONDS run the long one).
 */
describe('round slots, in service processes', () => {
  const PERIOD_S = Number(process.env.ROUND_SLOTS_PERIOD_SECONDS ?? 2);
  const PHASE_MS = Number(process.env.ROUND_SLOTS_PHASE_SECONDS ?? 30) * 1000;
  const PERIOD_MS = PERIOD_S * 1000;
  const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const adminKey = `admin-${randomBytes(16).toString('hex')}`;
  let database: TestDatabase;
  let sql: pg.Pool;
  const running: ServiceProcess[] = [];
  const query = async (text: string) => (await sql.query(text)).rows as Array<Record<string, any>>;

  const start = async () => {
    const service = await startService({
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: `slots-${database.name}`,
      ADMIN_API_KEY: adminKey,
      ROUND_PERIOD_SECONDS: String(PERIOD_S),
    });
    running.push(service);
    return service;
  };
  /** The latest slot that has a round or a recorded miss. */
  const latestAccounted = async () =>
    Number(
      (
        await query(
          `SELECT (extract(epoch FROM GREATEST((SELECT max(period_start) FROM rounds), (SELECT max(last_slot) FROM missed_round_slots))) * 1000)::bigint AS at`,
        )
      )[0]!.at ?? 0,
    );
  /** Waits until the schedule has accounted for every slot up to `until` (a wall-clock instant). */
  const waitThrough = (at: number) =>
    until(
      `the slots up to ${new Date(at).toISOString()}`,
      async () => (await latestAccounted()) >= Math.floor(at / PERIOD_MS) * PERIOD_MS,
      PHASE_MS + 30_000,
      200,
    );

  beforeAll(async () => {
    buildService();
    database = await createTestDatabase();
    sql = new pg.Pool({ connectionString: database.url, max: 2 });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(running.map((s) => s.kill('SIGKILL')));
    await sql?.end();
    await database?.drop();
  });

  it(
    'one replica, then a stop, then two replicas: a round for every slot while a process runs, the stop recorded as missed, no slot twice',
    { timeout: 3 * PHASE_MS + 120_000 },
    async () => {
      const one = await start();
      const firstStarted = Date.now();
      await waitThrough(firstStarted + PHASE_MS);
      const healthyOne = (await slotsOf(query, PERIOD_MS)).filter((r) => r.slot >= firstStarted);
      expect(healthyOne.length).toBeGreaterThanOrEqual(Math.floor(PHASE_MS / PERIOD_MS) - 1);
      expect(healthyOne.filter((r) => r.rounds !== 1)).toEqual([]);

      // Down for at least two whole slots: their rounds cannot run, and must be recorded.
      await one.kill('SIGKILL');
      const stoppedAt = Date.now();
      await until(
        'two slots to pass with no service',
        () => Date.now() >= stoppedAt + 2.5 * PERIOD_MS,
        10 * PERIOD_MS,
        100,
      );

      const [a, b] = await Promise.all([start(), start()]);
      const secondStarted = Date.now();
      await waitThrough(secondStarted + PHASE_MS);
      await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);

      const rows = await slotsOf(query, PERIOD_MS);
      expect(unaccounted(rows)).toEqual([]);
      // Labels are multiples of the period, not the instants jobs ran at.
      expect(
        await query(
          `SELECT period_start FROM rounds WHERE (extract(epoch FROM period_start) * 1000)::bigint % ${PERIOD_MS} <> 0`,
        ),
      ).toEqual([]);
      // While the service was away, some slot was recorded missed and no round ran.
      const whileDown = rows.filter((r) => r.slot > stoppedAt && r.slot + PERIOD_MS < secondStarted);
      expect(whileDown.length).toBeGreaterThanOrEqual(1);
      expect(whileDown.filter((r) => r.rounds > 0 || r.missed.length !== 1)).toEqual([]);
      // Once both replicas run (after the first slot they found), every slot has a round.
      const healthyTwo = rows.filter((r) => r.slot > secondStarted + PERIOD_MS);
      expect(healthyTwo.length).toBeGreaterThanOrEqual(Math.floor(PHASE_MS / PERIOD_MS) - 2);
      expect(healthyTwo.filter((r) => r.rounds !== 1)).toEqual([]);
    },
  );
});
