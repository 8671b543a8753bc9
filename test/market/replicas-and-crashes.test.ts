import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildService, startService, type ServiceProcess } from '../support/service-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-database.js';

/**
 * The market as operators run it: `gpumarket serve` processes sharing one PostgreSQL and one
 * Redis. Two replicas must clear one round per period and never give a GPU twice; a process
 * killed with SIGKILL inside a round's commit or the outbox relay must leave a consistent
 * database from which the next round proceeds.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const adminKey = `admin-${randomBytes(16).toString('hex')}`;
let database: TestDatabase;
let sql: pg.Pool;
const running: ServiceProcess[] = [];

async function call(base: string, method: string, path: string, key: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await response.json()) as Record<string, any>;
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: database.url,
    REDIS_URL,
    QUEUE_PREFIX: `proc-${database.name}`,
    ADMIN_API_KEY: adminKey,
    ROUND_PERIOD_SECONDS: '2',
    MIN_HOLD_SECONDS: '2',
    PREEMPTION_NOTICE_SECONDS: '2',
    // Simulated workloads end 30 times faster than their run time, so leases churn in seconds.
    SIMULATED_TIME_SCALE: '30',
    ...extra,
  };
}

async function start(extra?: Record<string, string>): Promise<ServiceProcess> {
  const service = await startService(env(extra));
  running.push(service);
  return service;
}

/**
 * Nodes whose GPUs are held by more leases than they have, at this instant. A lease holds its
 * GPUs while it runs, while it is in its notice (its successor's placement waits for the notice
 * to end), and from the moment its place order is due (the adapter may have started it).
 */
async function overbookedNodes(): Promise<unknown[]> {
  const { rows } = await sql.query(`
    WITH holding AS (
      SELECT ln.node_id, ln.gpus, l.id FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
       WHERE l.state = 'running'
          OR (l.state = 'preempting' AND l.notice_ends_at > now())
          OR (l.state = 'allocated' AND EXISTS (SELECT 1 FROM orders o WHERE o.lease_id = l.id AND o.type = 'place' AND o.not_before <= now())))
    SELECT n.external_id, n.gpus, sum(h.gpus)::int AS held, array_agg(h.id) AS leases
      FROM holding h JOIN nodes n ON n.id = h.node_id
     GROUP BY n.id HAVING sum(h.gpus) > n.gpus`);
  return rows;
}

/** GPUs that two live workloads of the simulated fleet (what the adapter actually started) share now. */
async function sharedFleetGpus(): Promise<string[]> {
  const { rows } = await sql.query<{
    lease_id: string;
    placements: Array<{ externalId: string; gpuIndices: number[] }>;
  }>(`
    SELECT lease_id, placements FROM simulated_workloads
     WHERE now() < LEAST(ends_at, CASE WHEN ignores_term THEN kill_at ELSE term_at END, 'infinity')`);
  const owner = new Map<string, string>();
  const shared: string[] = [];
  for (const row of rows)
    for (const placement of row.placements)
      for (const gpu of placement.gpuIndices) {
        const key = `${placement.externalId}/${gpu}`;
        if (owner.has(key)) shared.push(`${key}: ${owner.get(key)} and ${row.lease_id}`);
        owner.set(key, row.lease_id);
      }
  return shared;
}

/** Watches both invariants every 150 ms until stopped; returns what it saw broken. */
function watchGpus(): () => unknown[] {
  const problems: unknown[] = [];
  const timer = setInterval(() => {
    void overbookedNodes().then(
      (rows) => problems.push(...rows),
      () => {},
    );
    void sharedFleetGpus().then(
      (rows) => problems.push(...rows),
      () => {},
    );
  }, 150);
  return () => {
    clearInterval(timer);
    return problems;
  };
}

async function failedLeases(): Promise<unknown[]> {
  return (await sql.query(`SELECT id, end_reason FROM leases WHERE state = 'failed'`)).rows;
}

/** Workloads the fleet started more than once for one lease (the adapter must place once). */
async function startedTwice(): Promise<unknown[]> {
  return (
    await sql.query(
      `SELECT lease_id, count(*)::int AS n FROM simulated_workloads GROUP BY provider_id, lease_id HAVING count(*) > 1`,
    )
  ).rows;
}

async function committedRounds(): Promise<number> {
  return Number((await sql.query(`SELECT count(*) AS n FROM rounds WHERE state = 'committed'`)).rows[0].n);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let tenantKey = '';
let providerKey = '';
let bidCount = 0;
async function submitWave(base: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const n = bidCount++;
    await call(base, 'POST', '/v1/bids', tenantKey, {
      gpus: [1, 2, 4, 8, 16][n % 5],
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: (1.6 + ((n * 37) % 45) / 10).toFixed(2) }],
      contiguity: n % 5 === 4 ? 'block' : 'node',
      preemptible: n % 3 !== 0,
      runtimeSeconds: 60 + (n % 7) * 20,
      workload: { command: ['sleep', '1'] },
    });
  }
}

beforeAll(async () => {
  buildService();
  database = await createTestDatabase();
  sql = new pg.Pool({ connectionString: database.url, max: 2 });
  const first = await start();
  const provider = await call(first.base, 'POST', '/v1/providers', adminKey, { name: 'fleet', adapter: 'simulated' });
  const nodes = Array.from({ length: 6 }, (_, i) => ({
    externalId: `h100-${i}`,
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
    region: 'us-east',
    block: `b${i % 2}`,
    reservePrice: '1.50',
  }));
  await call(first.base, 'PUT', '/v1/nodes', provider.apiKey, { nodes });
  providerKey = provider.apiKey;
  tenantKey = (await call(first.base, 'POST', '/v1/tenants', adminKey, { name: 'load' })).apiKey;
  await first.kill('SIGTERM');
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  await sql?.end();
  await database?.drop();
});

describe('service processes on one PostgreSQL and Redis', () => {
  it(
    "two replicas clear one round per period, never give a GPU twice, and keep each other's simulated leases running",
    { timeout: 90_000 },
    async () => {
      const before = await committedRounds();
      const [a, b] = await Promise.all([start(), start()]);
      const startedAt = Date.now();
      const stopWatching = watchGpus();
      let problems: unknown[];
      try {
        await submitWave(a.base, 15);
        await new Promise((r) => setTimeout(r, 4_000));
        await submitWave(b.base, 15);
        await new Promise((r) => setTimeout(r, 8_000));
      } finally {
        problems = stopWatching();
      }
      const elapsedPeriods = (Date.now() - startedAt) / 2_000;
      const rounds = (await committedRounds()) - before;
      expect(problems).toEqual([]);
      expect(await overbookedNodes()).toEqual([]);
      // One round per 2-second period, not one per replica per period. (period_start is unique, so
      // the count, not a search for two rounds of one period, is what shows it.)
      expect(rounds).toBeGreaterThanOrEqual(Math.floor(elapsedPeriods) - 2);
      expect(rounds).toBeLessThanOrEqual(Math.ceil(elapsedPeriods) + 1);
      // Both replicas cut time into the same periods.
      const misaligned = await sql.query(
        `SELECT period_start FROM rounds WHERE (extract(epoch FROM period_start) * 1000)::bigint % 2000 <> 0`,
      );
      expect(misaligned.rows).toEqual([]);
      const leased = await sql.query(`SELECT count(*) AS n FROM leases`);
      expect(Number(leased.rows[0].n)).toBeGreaterThan(5);
      // Either replica dispatches and polls any lease: the simulated fleet is one fleet for both.
      expect(await failedLeases()).toEqual([]);
      const completed = await sql.query(
        `SELECT count(*)::int AS n FROM leases WHERE state = 'completed' AND end_reason IN ('workload_ended', 'runtime_reached')`,
      );
      expect(completed.rows[0].n).toBeGreaterThan(0);
      expect(await startedTwice()).toEqual([]);
      const unbalanced = await sql.query(
        `SELECT count(*) AS n FROM ledger_entries WHERE charge + uplift <> payout + fee`,
      );
      expect(Number(unbalanced.rows[0].n)).toBe(0);
      await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
    },
  );

  it(
    'a restarted service keeps the simulated leases the killed one placed running, and they complete',
    { timeout: 90_000 },
    async () => {
      const first = await start();
      const leasesBefore = new Set((await sql.query(`SELECT id FROM leases`)).rows.map((r) => r.id));
      await submitWave(first.base, 10);
      const runningNow = async () =>
        (await sql.query(`SELECT id FROM leases WHERE state = 'running'`)).rows
          .map((r) => r.id as string)
          .filter((id) => !leasesBefore.has(id));
      await waitFor('leases of the first process to run', async () => (await runningNow()).length >= 3);
      const placedByFirst = await runningNow();
      expect(await first.kill('SIGKILL')).toBe('SIGKILL');

      const second = await start();
      const stopWatching = watchGpus();
      try {
        await waitFor(
          "the first process's leases to complete",
          async () => {
            const { rows } = await sql.query(
              `SELECT count(*)::int AS n FROM leases WHERE id = ANY($1::uuid[]) AND state IN ('running', 'preempting', 'allocated')`,
              [placedByFirst],
            );
            return rows[0].n === 0;
          },
          60_000,
        );
      } finally {
        expect(stopWatching()).toEqual([]);
      }
      const ended = await sql.query(
        `SELECT state, count(*)::int AS n FROM leases WHERE id = ANY($1::uuid[]) GROUP BY state`,
        [placedByFirst],
      );
      expect(ended.rows.map((r) => r.state).sort()).not.toContain('failed');
      expect(await failedLeases()).toEqual([]);
      expect(await startedTwice()).toEqual([]);
      await second.kill('SIGTERM');
    },
  );

  it(
    'a process killed inside a round commit loses the whole round and the next round proceeds',
    { timeout: 90_000 },
    async () => {
      await submitWave(REDIS_URL ? (await start()).base : '', 0);
      const service = running.at(-1)!;
      await submitWave(service.base, 10);
      await service.kill('SIGTERM');
      const leasesBefore = Number((await sql.query('SELECT count(*) AS n FROM leases')).rows[0].n);
      const roundsBefore = await committedRounds();

      const doomed = await start({ GPUMARKET_FAILPOINT: 'round.commit' });
      expect(await doomed.exited).toBe('SIGKILL');
      // The killed transaction left nothing: no committed round, no new lease, the claim still open.
      expect(await committedRounds()).toBe(roundsBefore);
      expect(Number((await sql.query('SELECT count(*) AS n FROM leases')).rows[0].n)).toBe(leasesBefore);
      expect(
        Number((await sql.query(`SELECT count(*) AS n FROM rounds WHERE state = 'clearing'`)).rows[0].n),
      ).toBeGreaterThanOrEqual(1);

      const next = await start();
      await waitFor('a round committed after the crash', async () => (await committedRounds()) > roundsBefore);
      expect(await overbookedNodes()).toEqual([]);
      await next.kill('SIGTERM');
    },
  );

  it(
    'a process killed inside the outbox relay loses no order and starts no order twice',
    { timeout: 90_000 },
    async () => {
      const feeder = await start({ ROUND_PERIOD_SECONDS: '3600' });
      // Fresh nodes: the leases of the tests before may still fill the fleet, and the doomed
      // process dies only once a round gives it orders to relay.
      const fresh = Array.from({ length: 2 }, (_, i) => ({
        externalId: `relay-${i}`,
        gpuModel: 'H100-SXM-80GB',
        gpus: 8,
        region: 'us-east',
        block: 'b-relay',
        reservePrice: '1.00',
      }));
      await call(feeder.base, 'PUT', '/v1/nodes', providerKey, { nodes: fresh });
      await submitWave(feeder.base, 10);
      await feeder.kill('SIGTERM');
      const doomed = await start({ GPUMARKET_FAILPOINT: 'outbox.relay' });
      expect(await doomed.exited).toBe('SIGKILL');
      const next = await start();
      await waitFor(
        'every order due by now to be handled',
        async () => {
          const { rows } = await sql.query(
            `SELECT count(*) AS n FROM orders WHERE state IN ('pending', 'sent') AND not_before < now() - interval '25 seconds'`,
          );
          const { rows: outbox } = await sql.query(
            `SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL AND deliver_at < now() - interval '5 seconds'`,
          );
          return Number(rows[0].n) === 0 && Number(outbox[0].n) === 0;
        },
        60_000,
      );
      const failed = await sql.query(`SELECT type, last_error FROM orders WHERE state = 'failed'`);
      expect(failed.rows).toEqual([]);
      // What the fleet actually started: one workload per lease whose place order was carried out
      // (with the handle the market recorded), none for a lease whose order never was, none twice.
      // The relayed-twice job and the sweeper's re-enqueue are what could start a second one.
      expect(await startedTwice()).toEqual([]);
      const mismatched = await sql.query(`
      SELECT o.lease_id, o.state, o.handle, w.handle AS started FROM orders o
        LEFT JOIN simulated_workloads w ON w.provider_id = o.provider_id AND w.lease_id = o.lease_id::text
       WHERE o.type = 'place' AND ((o.state = 'done') <> (w.id IS NOT NULL) OR o.handle IS DISTINCT FROM w.handle)
         AND o.state IN ('done', 'withdrawn', 'failed')`);
      expect(mismatched.rows).toEqual([]);
      const started = await sql.query(`SELECT count(*)::int AS n FROM simulated_workloads`);
      expect(started.rows[0].n).toBeGreaterThan(0);
      expect(await overbookedNodes()).toEqual([]);
      expect(await sharedFleetGpus()).toEqual([]);
      await next.kill('SIGTERM');
    },
  );
});
