import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoundsRepository } from '../../src/modules/market/rounds.repository.js';
import { auth, createProvider, createTenant } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * GET /v1/rounds/missed-slots: an operator sees which slots of the round schedule got no round
 * and why, over a [from, to) range as in the reports, admin only, paged. The misses are recorded
 * the way the scheduler records them, by claiming slots (a claim that skips slots or comes late);
 * the claimed rounds themselves are not cleared, which this endpoint does not need.
 */
describe('missed round slots, over HTTP', () => {
  let t: TestApp;
  const PERIOD_MS = 60_000;
  const base = Date.UTC(2041, 0, 1);
  const slot = (k: number) => new Date(base + k * PERIOD_MS).toISOString();
  const get = (query: string, key = t.adminKey) => t.http().get(`/v1/rounds/missed-slots?${query}`).set(auth(key));
  const firstSlots = (body: { missed: Array<{ firstSlot: string }> }) => body.missed.map((m) => m.firstSlot);

  beforeAll(async () => {
    t = await createTestApp({ ROUND_PERIOD_SECONDS: '60' });
    const rounds = t.app.get(RoundsRepository);
    const claim = async (k: number, lateMs = 0) => {
      const at = base + k * PERIOD_MS;
      return (await t.dataSource.transaction((m) => rounds.claimSlot(m, new Date(at), 60, new Date(at + lateMs), 300)))
        .round;
    };
    expect(await claim(0)).not.toBeNull();
    // Slots 1-3 get no job (the service was down): slot 4's claim records them as not run.
    expect(await claim(4)).not.toBeNull();
    // Slot 5's job comes after slot 6 began: recorded late, not cleared.
    expect(await claim(5, 70_000)).toBeNull();
    expect(await claim(6)).not.toBeNull();
    // Slots 7-9 missed too, so that a range can hold three runs.
    expect(await claim(10)).not.toBeNull();
  });
  afterAll(async () => t?.close());

  it('lists each run of missed slots with its reason, period and when it was recorded, oldest first', async () => {
    const response = await get(`from=${slot(0)}&to=${slot(11)}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toEqual({
      from: slot(0),
      to: slot(11),
      missed: [
        { firstSlot: slot(1), lastSlot: slot(3), slots: 3, periodSeconds: 60, reason: 'not_run', detectedAt: any },
        { firstSlot: slot(5), lastSlot: slot(5), slots: 1, periodSeconds: 60, reason: 'late', detectedAt: any },
        { firstSlot: slot(7), lastSlot: slot(9), slots: 3, periodSeconds: 60, reason: 'not_run', detectedAt: any },
      ],
      nextCursor: null,
    });
    for (const run of response.body.missed) expect(Date.parse(run.detectedAt)).not.toBeNaN();
  });

  it('takes a run with any slot in [from, to): one straddling `from` is in, one starting at `to` is out', async () => {
    expect(firstSlots((await get(`from=${slot(2)}&to=${slot(5)}`)).body)).toEqual([slot(1)]);
    expect(firstSlots((await get(`from=${slot(3)}&to=${slot(6)}`)).body)).toEqual([slot(1), slot(5)]);
    expect(firstSlots((await get(`from=${slot(4)}&to=${slot(5)}`)).body)).toEqual([]);
    expect(firstSlots((await get(`from=${slot(0)}&to=${slot(1)}`)).body)).toEqual([]);
    // Without a range: the last day up to now, which holds none of these (they are in 2041).
    const recent = await get('');
    expect(recent.status).toBe(200);
    expect(recent.body.missed).toEqual([]);
    expect(Date.parse(recent.body.to) - Date.parse(recent.body.from)).toBe(86_400_000);
  });

  it('pages with limit and cursor, and refuses a cursor it did not write', async () => {
    const range = `from=${slot(0)}&to=${slot(11)}`;
    const first = await get(`${range}&limit=2`);
    expect(firstSlots(first.body)).toEqual([slot(1), slot(5)]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await get(`${range}&limit=2&cursor=${first.body.nextCursor}`);
    expect(firstSlots(second.body)).toEqual([slot(7)]);
    expect(second.body.nextCursor).toBeNull();

    const forged = await get(`${range}&cursor=${Buffer.from('yesterday').toString('base64url')}`);
    expect(forged.status).toBe(400);
    expect(forged.body.details).toEqual([expect.objectContaining({ field: 'cursor', rule: 'is_cursor' })]);
    expect((await get(`${range}&limit=0`)).body.details).toEqual([expect.objectContaining({ field: 'limit' })]);
  });

  it('answers 400 naming the field for a bad range', async () => {
    const problems = async (query: string) => {
      const response = await get(query);
      expect(response.status, query).toBe(400);
      return response.body.details.map((d: { field: string; rule: string }) => `${d.field}:${d.rule}`);
    };
    expect(await problems(`from=${slot(5)}&to=${slot(1)}`)).toEqual(['to:after_from']);
    expect(await problems(`from=${slot(5)}&to=${slot(5)}`)).toEqual(['to:after_from']);
    expect(await problems('from=2041-01-01T00:00:00Z&to=2041-06-01T00:00:00Z')).toEqual(['to:max_span']);
    expect(await problems('from=yesterday')).toEqual(['from:is_instant']);
    expect(await problems('to=2041-01-01')).toEqual(['to:is_instant']);
    expect(await problems('reason=late')).toEqual(['reason:unknown_field']);
  });

  it('is for admin keys only: a tenant or provider key is refused (403), no key is 401', async () => {
    const range = `from=${slot(0)}&to=${slot(11)}`;
    const tenant = await get(range, (await createTenant(t, 'curious tenant')).apiKey);
    expect(tenant.status).toBe(403);
    expect(tenant.body.error).toBe('role_not_allowed');
    expect((await get(range, (await createProvider(t, 'curious provider')).apiKey)).status).toBe(403);
    expect((await t.http().get(`/v1/rounds/missed-slots?${range}`)).status).toBe(401);
  });

  it('is in the OpenAPI document with its query and response', async () => {
    const document = (await t.http().get('/docs/openapi.json')).body;
    const operation = document.paths['/v1/rounds/missed-slots'].get;
    expect(operation.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['cursor', 'from', 'limit', 'to']);
    expect(operation.responses['200'].content['application/json'].schema.$ref).toMatch(/MissedSlotsDto$/);
    expect(document.components.schemas.MissedSlotRunDto.properties).toMatchObject({
      slots: { type: 'integer' },
      periodSeconds: { type: 'integer' },
      reason: { enum: ['not_run', 'late'] },
    });
  });
});

const any = expect.any(String);
