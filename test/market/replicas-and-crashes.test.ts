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

/** GPUs held on a node by leases that own them now: never more than the node has. */
async function overbookedNodes(): Promise<unknown[]> {
  const { rows } = await sql.query(`
    SELECT n.external_id, n.gpus, used.gpus AS used
      FROM nodes n JOIN (SELECT ln.node_id, sum(ln.gpus) AS gpus FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
                          WHERE l.state IN ('allocated', 'running') GROUP BY ln.node_id) used ON used.node_id = n.id
     WHERE used.gpus > n.gpus`);
  return rows;
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
  tenantKey = (await call(first.base, 'POST', '/v1/tenants', adminKey, { name: 'load' })).apiKey;
  await first.kill('SIGTERM');
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  await sql?.end();
  await database?.drop();
});

describe('service processes on one PostgreSQL and Redis', () => {
  it('two replicas clear one round per period and never give a GPU twice', { timeout: 90_000 }, async () => {
    const before = await committedRounds();
    const [a, b] = await Promise.all([start(), start()]);
    const startedAt = Date.now();
    const problems: unknown[] = [];
    const watcher = setInterval(() => void overbookedNodes().then((rows) => problems.push(...rows)), 150);
    try {
      await submitWave(a.base, 15);
      await new Promise((r) => setTimeout(r, 4_000));
      await submitWave(b.base, 15);
      await new Promise((r) => setTimeout(r, 8_000));
    } finally {
      clearInterval(watcher);
    }
    const elapsedPeriods = (Date.now() - startedAt) / 2_000;
    const rounds = (await committedRounds()) - before;
    expect(problems).toEqual([]);
    expect(await overbookedNodes()).toEqual([]);
    // One round per 2-second period, not one per replica per period.
    expect(rounds).toBeGreaterThanOrEqual(Math.floor(elapsedPeriods) - 2);
    expect(rounds).toBeLessThanOrEqual(Math.ceil(elapsedPeriods) + 1);
    const perPeriod = await sql.query(`SELECT period_start, count(*) AS n FROM rounds GROUP BY period_start HAVING count(*) > 1`);
    expect(perPeriod.rows).toEqual([]);
    const leased = await sql.query(`SELECT count(*) AS n FROM leases`);
    expect(Number(leased.rows[0].n)).toBeGreaterThan(5);
    const unbalanced = await sql.query(`SELECT count(*) AS n FROM ledger_entries WHERE charge <> payout + fee`);
    expect(Number(unbalanced.rows[0].n)).toBe(0);
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
  });

  it('a process killed inside a round commit loses the whole round and the next round proceeds', { timeout: 90_000 }, async () => {
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
    expect(Number((await sql.query(`SELECT count(*) AS n FROM rounds WHERE state = 'clearing'`)).rows[0].n)).toBeGreaterThanOrEqual(1);

    const next = await start();
    await waitFor('a round committed after the crash', async () => (await committedRounds()) > roundsBefore);
    expect(await overbookedNodes()).toEqual([]);
    await next.kill('SIGTERM');
  });

  it('a process killed inside the outbox relay loses no order and starts no order twice', { timeout: 90_000 }, async () => {
    const feeder = await start({ ROUND_PERIOD_SECONDS: '3600' });
    await submitWave(feeder.base, 10);
    await feeder.kill('SIGTERM');
    const doomed = await start({ GPUMARKET_FAILPOINT: 'outbox.relay' });
    expect(await doomed.exited).toBe('SIGKILL');
    const next = await start();
    await waitFor('every order due by now to be handled', async () => {
      const { rows } = await sql.query(`SELECT count(*) AS n FROM orders WHERE state IN ('pending', 'sent') AND not_before < now() - interval '25 seconds'`);
      const { rows: outbox } = await sql.query(`SELECT count(*) AS n FROM outbox WHERE relayed_at IS NULL AND deliver_at < now() - interval '5 seconds'`);
      return Number(rows[0].n) === 0 && Number(outbox[0].n) === 0;
    }, 60_000);
    const failed = await sql.query(`SELECT type, last_error FROM orders WHERE state = 'failed'`);
    expect(failed.rows).toEqual([]);
    // No lease's workload was asked to start twice: one place order per lease and provider.
    const duplicates = await sql.query(`SELECT lease_id FROM orders WHERE type = 'place' GROUP BY lease_id, provider_id HAVING count(*) > 1`);
    expect(duplicates.rows).toEqual([]);
    expect(await overbookedNodes()).toEqual([]);
    await next.kill('SIGTERM');
  });
});
