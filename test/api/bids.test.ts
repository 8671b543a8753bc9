import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let tenant: { id: string; apiKey: string };
let rival: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp();
  tenant = await createTenant(t, 'acme');
  rival = await createTenant(t, 'rival');
  await putNodes(t, (await createProvider(t)).apiKey, [node('n1'), node('n2', { gpuModel: 'A100-SXM-80GB' })]);
});
afterAll(async () => {
  await t?.close();
});

const submit = (key: string, body: Record<string, unknown>, idempotencyKey?: string) => {
  const req = t.http().post('/v1/bids').set(auth(key));
  return (idempotencyKey ? req.set('Idempotency-Key', idempotencyKey) : req).send(body);
};

describe('submitting a bid', () => {
  it('answers 201 with the open bid and every field, and GET returns the same bid', async () => {
    const deadline = new Date(Date.now() + 24 * 3_600_000).toISOString();
    const body = bidBody({
      gpus: 4,
      offers: [
        { gpuModel: 'H100-SXM-80GB', maxPrice: '3.10' },
        { gpuModel: 'A100-SXM-80GB', maxPrice: 1.2 },
      ],
      preemptible: true,
      runtimeSeconds: 4 * 3600,
      window: { notBefore: '2026-01-01T00:00:00+01:00', deadline },
      regions: ['eu-west'],
      compliance: ['soc2'],
      minGpuMemoryGb: 40,
      workload: { image: 'img:1', command: ['run'], env: { EPOCHS: '3' } },
    });
    const created = await submit(tenant.apiKey, body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      tenantId: tenant.id,
      status: 'open',
      gpus: 4,
      offers: [
        { gpuModel: 'H100-SXM-80GB', maxPrice: '3.10' },
        { gpuModel: 'A100-SXM-80GB', maxPrice: '1.20' },
      ],
      contiguity: 'node',
      preemptible: true,
      runtimeSeconds: 14_400,
      remainingSeconds: 14_400,
      window: { notBefore: '2025-12-31T23:00:00.000Z', deadline },
      regions: ['eu-west'],
      compliance: ['soc2'],
      minGpuMemoryGb: 40,
      workload: { image: 'img:1', command: ['run'], env: { EPOCHS: '3' } },
      lastLossReason: null,
    });
    const fetched = await t.http().get(`/v1/bids/${created.body.id}`).set(auth(tenant.apiKey));
    expect(fetched.status).toBe(200);
    // GET adds the leases the bid has won: none yet.
    expect(fetched.body).toEqual({ ...created.body, leases: [] });
  });

  it('stores prices exactly as numeric', async () => {
    const created = await submit(tenant.apiKey, bidBody({ offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '0.1' }] }));
    const rows = await t.dataSource.query('SELECT max_price::text AS p FROM bid_offers WHERE bid_id = $1', [
      created.body.id,
    ]);
    expect(rows[0].p).toBe('0.1000');
  });
});

describe('idempotency', () => {
  it('creates exactly one bid for 20 concurrent submissions with one key, and answers each with it', async () => {
    const body = bidBody({ gpus: 2 });
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => submit(tenant.apiKey, body, 'concurrent-key-1')),
    );
    expect(responses.map((r) => r.status).every((s) => s === 200 || s === 201)).toBe(true);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    const rows = await t.dataSource.query(
      'SELECT count(*)::int AS n FROM bids WHERE tenant_id = $1 AND idempotency_key = $2',
      [tenant.id, 'concurrent-key-1'],
    );
    expect(rows[0].n).toBe(1);
  });

  it('treats the same request written differently (key order, price as number) as the same', async () => {
    const first = await submit(
      tenant.apiKey,
      bidBody({ offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' }] }),
      'same-key-2',
    );
    const again = await submit(
      tenant.apiKey,
      { workload: bidBody().workload, ...bidBody({ offers: [{ maxPrice: 2.5, gpuModel: 'H100-SXM-80GB' }] }) },
      'same-key-2',
    );
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  it('answers the same key with a different body with 409 and creates nothing', async () => {
    await submit(tenant.apiKey, bidBody({ gpus: 1 }), 'conflict-key').expect(201);
    const response = await submit(tenant.apiKey, bidBody({ gpus: 2 }), 'conflict-key');
    expect(response.status).toBe(409);
    expect(response.body.error).toBe('idempotency_key_reused');
    const rows = await t.dataSource.query(`SELECT count(*)::int AS n FROM bids WHERE idempotency_key = 'conflict-key'`);
    expect(rows[0].n).toBe(1);
  });

  it('scopes keys to the tenant: another tenant may use the same key', async () => {
    const mine = await submit(tenant.apiKey, bidBody(), 'per-tenant-key');
    const theirs = await submit(rival.apiKey, bidBody(), 'per-tenant-key');
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('answers a retry with the bid first accepted even when the same request would now be refused', async () => {
    // The run time fits before the deadline by one second at first submission, and no longer on the retry.
    const body = bidBody({ runtimeSeconds: 60, window: { deadline: new Date(Date.now() + 61_500).toISOString() } });
    const first = await submit(tenant.apiKey, body, 'late-retry');
    expect(first.status).toBe(201);
    await new Promise((r) => setTimeout(r, 2_000));
    const unkeyed = await submit(tenant.apiKey, body);
    expect(unkeyed.status).toBe(400);
    const retry = await submit(tenant.apiKey, body, 'late-retry');
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
  });

  it('rejects an unusable key', async () => {
    const response = await submit(tenant.apiKey, bidBody(), 'x'.repeat(300));
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field: 'Idempotency-Key' }));
  });
});

describe('listing bids', () => {
  it("pages through only the tenant's own bids, newest first, without gaps or repeats", async () => {
    const t2 = await createTenant(t, 'pager');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await submit(t2.apiKey, bidBody({ gpus: i + 1 }))).body.id);
    await submit(rival.apiKey, bidBody());
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        status: number;
        body: { bids: Array<{ id: string; tenantId: string }>; nextCursor: string | null };
      } = await t
        .http()
        .get('/v1/bids')
        .query({ limit: 3, ...(cursor ? { cursor } : {}) })
        .set(auth(t2.apiKey));
      expect(page.status).toBe(200);
      expect(page.body.bids.length).toBeLessThanOrEqual(3);
      expect(page.body.bids.every((b) => b.tenantId === t2.id)).toBe(true);
      seen.push(...page.body.bids.map((b) => b.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('filters by status', async () => {
    const t3 = await createTenant(t, 'filter');
    const a = (await submit(t3.apiKey, bidBody())).body.id;
    const b = (await submit(t3.apiKey, bidBody())).body.id;
    await t.http().delete(`/v1/bids/${a}`).set(auth(t3.apiKey)).expect(200);
    const open = await t.http().get('/v1/bids?status=open').set(auth(t3.apiKey));
    expect(open.body.bids.map((x: { id: string }) => x.id)).toEqual([b]);
    const cancelled = await t.http().get('/v1/bids?status=cancelled').set(auth(t3.apiKey));
    expect(cancelled.body.bids.map((x: { id: string }) => x.id)).toEqual([a]);
  });

  it.each([
    ['status=unknown', 'status', 'is_in'],
    ['limit=0', 'limit', 'min'],
    ['limit=5000', 'limit', 'max'],
    ['limit=ten', 'limit', 'is_int'],
    ['cursor=garbage', 'cursor', 'is_cursor'],
    ['sort=asc', 'sort', 'unknown_field'],
  ])('rejects ?%s', async (query, field, rule) => {
    const response = await t.http().get(`/v1/bids?${query}`).set(auth(tenant.apiKey));
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule }));
  });
});

describe("other tenants' bids", () => {
  it('answer 404 to GET and DELETE, exactly like a bid that does not exist, and stay unchanged', async () => {
    const theirs = (await submit(rival.apiKey, bidBody())).body.id;
    const get = await t.http().get(`/v1/bids/${theirs}`).set(auth(tenant.apiKey));
    const del = await t.http().delete(`/v1/bids/${theirs}`).set(auth(tenant.apiKey));
    const missing = await t.http().get('/v1/bids/00000000-0000-4000-8000-000000000000').set(auth(tenant.apiKey));
    expect([get.status, del.status, missing.status]).toEqual([404, 404, 404]);
    expect(get.body.error).toBe(missing.body.error);
    expect(get.body.message).not.toContain('rival');
    const rows = await t.dataSource.query('SELECT status FROM bids WHERE id = $1', [theirs]);
    expect(rows[0].status).toBe('open');
  });

  it('answer a malformed id with 404', async () => {
    expect((await t.http().get('/v1/bids/not-a-uuid').set(auth(tenant.apiKey))).status).toBe(404);
  });
});

describe('cancelling a bid', () => {
  it('marks an open bid cancelled, and a second cancel answers 409', async () => {
    const id = (await submit(tenant.apiKey, bidBody())).body.id;
    const first = await t.http().delete(`/v1/bids/${id}`).set(auth(tenant.apiKey));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ id, status: 'cancelled' });
    const second = await t.http().delete(`/v1/bids/${id}`).set(auth(tenant.apiKey));
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('bid_already_finished');
  });

  it.each(['completed', 'expired', 'failed'])('answers 409 for a %s bid and leaves it so', async (status) => {
    const id = (await submit(tenant.apiKey, bidBody())).body.id;
    await t.dataSource.query('UPDATE bids SET status = $2 WHERE id = $1', [id, status]);
    const response = await t.http().delete(`/v1/bids/${id}`).set(auth(tenant.apiKey));
    expect(response.status).toBe(409);
    expect((await t.dataSource.query('SELECT status FROM bids WHERE id = $1', [id]))[0].status).toBe(status);
  });

  it('cancels a running bid (the market loop releases its lease)', async () => {
    const id = (await submit(tenant.apiKey, bidBody())).body.id;
    await t.dataSource.query(`UPDATE bids SET status = 'running' WHERE id = $1`, [id]);
    const response = await t.http().delete(`/v1/bids/${id}`).set(auth(tenant.apiKey));
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('cancelled');
  });
});
