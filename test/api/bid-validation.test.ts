import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let tenantKey: string;

beforeAll(async () => {
  t = await createTestApp();
  tenantKey = (await createTenant(t)).apiKey;
  const provider = await createProvider(t);
  // 8-GPU H100 nodes, two of them in one 16-GPU NVLink domain.
  await putNodes(t, provider.apiKey, [
    node('a'),
    node('b', { nvlinkDomain: 'rack-1' }),
    node('c', { nvlinkDomain: 'rack-1' }),
  ]);
});
afterAll(async () => {
  await t?.close();
});

const hour = 3_600_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

/** [what is wrong, body overrides, the field and rule the 400 must name] */
const cases: Array<[string, Record<string, unknown>, string, string]> = [
  ['an unknown top-level field', { colour: 'red' }, 'colour', 'unknown_field'],
  [
    'an unknown offer field',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2', discount: 1 }] },
    'offers[0].discount',
    'unknown_field',
  ],
  ['an unknown workload field', { workload: { image: 'x', shell: true } }, 'workload.shell', 'unknown_field'],
  ['gpus missing', { gpus: undefined }, 'gpus', 'is_int'],
  ['gpus as a string', { gpus: '8' }, 'gpus', 'is_int'],
  ['gpus fractional', { gpus: 2.5 }, 'gpus', 'is_int'],
  ['gpus zero', { gpus: 0 }, 'gpus', 'min'],
  ['gpus negative', { gpus: -4 }, 'gpus', 'min'],
  ['gpus absurd', { gpus: 1_000_000, contiguity: 'none' }, 'gpus', 'max'],
  ['offers missing', { offers: undefined }, 'offers', 'is_array'],
  ['offers empty', { offers: [] }, 'offers', 'array_min_size'],
  ['an offer that is not an object', { offers: ['H100'] }, 'offers[0]', 'is_object'],
  ['an offer that is an array', { offers: [[]] }, 'offers', 'is_object'],
  [
    'an unknown GPU model',
    { offers: [{ gpuModel: 'H900-FAKE', maxPrice: '2' }] },
    'offers[0].gpuModel',
    'unknown_gpu_model',
  ],
  [
    'the same model offered twice',
    {
      offers: [
        { gpuModel: 'H100-SXM-80GB', maxPrice: '2' },
        { gpuModel: 'H100-SXM-80GB', maxPrice: '3' },
      ],
    },
    'offers[1].gpuModel',
    'unique',
  ],
  [
    'maxPrice with 5 decimals',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.12345' }] },
    'offers[0].maxPrice',
    'max_decimals',
  ],
  [
    'maxPrice as a number with 5 decimals',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: 2.12345 }] },
    'offers[0].maxPrice',
    'max_decimals',
  ],
  [
    'maxPrice not a number',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: 'two' }] },
    'offers[0].maxPrice',
    'is_decimal',
  ],
  [
    'maxPrice in exponent form',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1e3' }] },
    'offers[0].maxPrice',
    'is_decimal',
  ],
  ['maxPrice negative', { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '-1' }] }, 'offers[0].maxPrice', 'price_min'],
  ['maxPrice zero', { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: 0 }] }, 'offers[0].maxPrice', 'price_min'],
  [
    'maxPrice absurd',
    { offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '99999999' }] },
    'offers[0].maxPrice',
    'price_max',
  ],
  ['maxPrice missing', { offers: [{ gpuModel: 'H100-SXM-80GB' }] }, 'offers[0].maxPrice', 'is_decimal'],
  ['an unknown contiguity', { contiguity: 'rack' }, 'contiguity', 'is_in'],
  ['preemptible as a string', { preemptible: 'yes' }, 'preemptible', 'is_boolean'],
  ['runtimeSeconds below a minute', { runtimeSeconds: 5 }, 'runtimeSeconds', 'min'],
  ['runtimeSeconds absurd', { runtimeSeconds: 10 ** 9 }, 'runtimeSeconds', 'max'],
  ['a node gang larger than any node', { gpus: 16, contiguity: 'node' }, 'gpus', 'contiguity_impossible'],
  ['an NVLink gang larger than any NVLink domain', { gpus: 24, contiguity: 'nvlink' }, 'gpus', 'contiguity_impossible'],
  ['a deadline that has passed', { window: { deadline: '2020-01-01T00:00:00Z' } }, 'window.deadline', 'in_past'],
  [
    'a deadline before notBefore',
    { window: { notBefore: iso(10 * hour), deadline: iso(5 * hour) } },
    'window.deadline',
    'after_not_before',
  ],
  [
    'a window shorter than the run time',
    { window: { notBefore: iso(hour), deadline: iso(1.5 * hour) }, runtimeSeconds: 7200 },
    'window',
    'window_too_short',
  ],
  [
    'a deadline that no longer leaves the run time',
    { window: { notBefore: iso(-10 * hour), deadline: iso(0.5 * hour) } },
    'window.deadline',
    'too_soon',
  ],
  ['a deadline years away', { window: { deadline: iso(800 * 24 * hour) } }, 'window.deadline', 'too_far'],
  ['a deadline without a timezone', { window: { deadline: '2030-01-01T10:00:00' } }, 'window.deadline', 'is_instant'],
  ['a deadline that is not a date', { window: { deadline: 'tomorrow' } }, 'window.deadline', 'is_instant'],
  ['a window without a deadline', { window: { notBefore: iso(hour) } }, 'window.deadline', 'is_instant'],
  ['a window that is not an object', { window: 'soon' }, 'window', 'is_object'],
  ['regions not an array', { regions: 'eu-west' }, 'regions', 'is_array'],
  ['regions null (null is a value, not an omission)', { regions: null }, 'regions', 'is_array'],
  ['a window of null', { window: null }, 'window', 'is_object'],
  ['an image of null', { workload: { image: null } }, 'workload.image', 'is_string'],
  ['a region with spaces', { regions: ['eu west'] }, 'regions', 'matches'],
  ['duplicate regions', { regions: ['eu-west', 'eu-west'] }, 'regions', 'array_unique'],
  ['a compliance tag that is not a string', { compliance: [42] }, 'compliance', 'is_string'],
  ['minGpuMemoryGb negative', { minGpuMemoryGb: -1 }, 'minGpuMemoryGb', 'min'],
  ['minGpuMemoryGb no offered model has', { minGpuMemoryGb: 141 }, 'minGpuMemoryGb', 'no_offer_qualifies'],
  ['workload missing', { workload: undefined }, 'workload', 'is_object'],
  ['a workload with neither image nor command', { workload: { env: { A: '1' } } }, 'workload', 'image_or_command'],
  [
    'a command that is not a list of strings',
    { workload: { command: 'python train.py' } },
    'workload.command',
    'is_array',
  ],
  ['env with a non-string value', { workload: { image: 'x', env: { EPOCHS: 3 } } }, 'workload.env', 'is_env_map'],
  ['env with an invalid name', { workload: { image: 'x', env: { 'BAD NAME': '1' } } }, 'workload.env', 'is_env_map'],
];

describe('POST /v1/bids rejects bad input with 400 naming the field and the rule', () => {
  it.each(cases)('%s', async (_what, overrides, field, rule) => {
    const response = await t.http().post('/v1/bids').set(auth(tenantKey)).send(bidBody(overrides));
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule }));
    expect(response.body.requestId).toEqual(expect.any(String));
  });

  it('names every failing field at once', async () => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenantKey))
      .send(bidBody({ gpus: 0, contiguity: 'rack', offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1.00001' }] }));
    expect(response.status).toBe(400);
    const fields = response.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['gpus', 'contiguity', 'offers[0].maxPrice']));
  });

  it('writes nothing when a bid is rejected', async () => {
    const before = await t.dataSource.query('SELECT count(*)::int AS n FROM bids');
    for (const [, overrides] of cases) await t.http().post('/v1/bids').set(auth(tenantKey)).send(bidBody(overrides));
    const after = await t.dataSource.query('SELECT count(*)::int AS n FROM bids');
    expect(after[0].n).toBe(before[0].n);
  });

  it.each([
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"bid"'],
    ['null', 'null'],
    ['malformed JSON', '{"gpus": 8,'],
  ])('answers %s as a body with 400, never 500', async (_what, raw) => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenantKey))
      .set('Content-Type', 'application/json')
      .send(raw);
    expect(response.status).toBe(400);
    expect(['validation_failed', 'malformed_json']).toContain(response.body.error);
  });

  it('answers a request without a JSON body with 400', async () => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenantKey))
      .set('Content-Type', 'text/plain')
      .send('gpus=8');
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field: '(body)', rule: 'is_object' }));
  });

  it('answers an oversized body with 413', async () => {
    const huge = bidBody({ workload: { image: 'x', env: { BIG: 'x'.repeat(2_000_000) } } });
    const response = await t.http().post('/v1/bids').set(auth(tenantKey)).send(huge);
    expect(response.status).toBe(413);
    expect(response.body.error).toBe('body_too_large');
  });

  it('accepts prices as numbers or strings with up to 4 decimals and answers them as decimal strings', async () => {
    const response = await t
      .http()
      .post('/v1/bids')
      .set(auth(tenantKey))
      .send(
        bidBody({
          contiguity: 'none',
          offers: [
            { gpuModel: 'H100-SXM-80GB', maxPrice: 2.5 },
            { gpuModel: 'A100-SXM-80GB', maxPrice: '1.1234' },
          ],
        }),
      );
    expect(response.status).toBe(201);
    expect(response.body.offers).toEqual([
      { gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' },
      { gpuModel: 'A100-SXM-80GB', maxPrice: '1.1234' },
    ]);
  });

  it('accepts a node gang as large as the largest node and an NVLink gang as large as the largest domain', async () => {
    for (const [gpus, contiguity] of [
      [8, 'node'],
      [16, 'nvlink'],
      [64, 'block'],
    ] as const) {
      const response = await t.http().post('/v1/bids').set(auth(tenantKey)).send(bidBody({ gpus, contiguity }));
      expect(response.status, `${gpus} GPUs, ${contiguity}`).toBe(201);
    }
  });
});
