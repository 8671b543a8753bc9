import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let tenantKey: string;
let providerKey: string;
let nodeId: string;

beforeAll(async () => {
  t = await createTestApp();
  tenantKey = (await createTenant(t)).apiKey;
  providerKey = (await createProvider(t)).apiKey;
  nodeId = String((await putNodes(t, providerKey, [node('fuzz-node')]))[0].id);
});
afterAll(async () => {
  await t?.close();
});

/** A valid body with one field, at any depth, replaced by an arbitrary JSON value (or removed). */
function mutated(valid: Record<string, unknown>) {
  const paths: string[][] = [];
  const walk = (value: unknown, path: string[]) => {
    paths.push(path);
    if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(valid, []);
  return fc
    .tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.option(fc.jsonValue(), { nil: undefined }))
    .map(([path, value]) => {
      const copy = structuredClone(valid);
      let target = copy as Record<string, unknown>;
      for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
      if (value === undefined) delete target[path[path.length - 1]];
      else target[path[path.length - 1]] = value;
      return copy;
    });
}

const valid = bidBody({
  window: { notBefore: '2030-01-01T00:00:00Z', deadline: '2030-01-02T00:00:00Z' },
  regions: ['eu-west'],
  compliance: ['soc2'],
  minGpuMemoryGb: 40,
  workload: { image: 'x', command: ['a'], env: { A: '1' } },
});

describe('no malformed body gets a 5xx', () => {
  it('POST /v1/bids answers every mutation of a valid bid with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(valid), async (body) => {
        const response = await t
          .http()
          .post('/v1/bids')
          .set(auth(tenantKey))
          .send(body as object);
        expect(response.status, JSON.stringify({ body, answer: response.body })).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });

  it('POST /v1/bids answers arbitrary JSON with 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (body) => {
        const response = await t
          .http()
          .post('/v1/bids')
          .set(auth(tenantKey))
          .set('Content-Type', 'application/json')
          .send(JSON.stringify(body));
        expect(response.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      }),
      { numRuns: 100 },
    );
  });

  it('PUT /v1/nodes and PATCH /v1/nodes/:id answer every mutation with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        mutated({ nodes: [node('fuzz-a', { nvlinkDomain: 'r1', compliance: ['soc2'] })] }),
        async (body) => {
          const response = await t
            .http()
            .put('/v1/nodes')
            .set(auth(providerKey))
            .send(body as object);
          expect(response.status, JSON.stringify({ body, answer: response.body })).toBeLessThan(500);
        },
      ),
      { numRuns: 100 },
    );
    await fc.assert(
      fc.asyncProperty(mutated({ state: 'active', reservePrice: '1.50' }), async (body) => {
        const response = await t
          .http()
          .patch(`/v1/nodes/${nodeId}`)
          .set(auth(providerKey))
          .send(body as object);
        expect(response.status, JSON.stringify({ body, answer: response.body })).toBeLessThan(500);
      }),
      { numRuns: 50 },
    );
  });

  it('GET /v1/bids answers arbitrary query strings with 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('status', 'limit', 'cursor', 'x'), fc.string({ maxLength: 40 })),
        async (query) => {
          const response = await t.http().get('/v1/bids').query(query).set(auth(tenantKey));
          expect(response.status, JSON.stringify({ query, answer: response.body })).toBeLessThan(500);
        },
      ),
      { numRuns: 100 },
    );
  });
});
