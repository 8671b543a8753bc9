import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashApiKey } from '../../src/modules/auth/api-key.service.js';
import { MAX_JSON_DEPTH, MAX_JSON_ITEMS, MAX_JSON_VALUES } from '../../src/platform/http/input-guard.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let tenant: { id: string; apiKey: string };
let providerKey: string;

beforeAll(async () => {
  t = await createTestApp();
  tenant = await createTenant(t, 'hostile-tenant');
  providerKey = (await createProvider(t, 'hostile-provider')).apiKey;
  await putNodes(t, providerKey, [node('hostile-node')]);
});
afterAll(async () => {
  await t?.close();
});

/** `{"a":[{"a":[…1…]}]}`: `depth` levels of objects and arrays, 2,000 levels is about 10 KB. */
function deepBody(depth: number): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(i % 2 === 0 ? '{"a":' : '[');
    close.push(i % 2 === 0 ? '}' : ']');
  }
  return open.join('') + '1' + close.reverse().join('');
}

type Method = 'post' | 'put' | 'patch' | 'delete';

/** Every route the app serves that takes a body, read from the router itself, so a new route is covered too. */
function routesWithBodies(): Array<{ method: Method; path: string }> {
  const express = t.app.getHttpAdapter().getInstance() as {
    router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> };
  };
  const routes: Array<{ method: Method; path: string }> = [];
  for (const layer of express.router.stack) {
    if (!layer.route) continue;
    for (const method of ['post', 'put', 'patch'] as const) {
      if (layer.route.methods[method])
        routes.push({ method, path: layer.route.path.replace(/:[A-Za-z]+/g, randomUUID()) });
    }
  }
  return routes;
}

function keyFor(path: string): string {
  if (/^\/v1\/(bids|quotes|webhooks)/.test(path)) return tenant.apiKey;
  if (/^\/v1\/(nodes|leases|agent)/.test(path)) return providerKey;
  return t.adminKey;
}

const send = (method: Method, path: string, key: string, raw: string) =>
  t.http()[method](path).set(auth(key)).set('Content-Type', 'application/json').send(raw);

describe('nesting depth', () => {
  it('answers a body nested 2,000 levels deep with 400 too_deep on every route with a body', async () => {
    const routes = routesWithBodies();
    // The routes of issue 17's probe; others may be added, none may go missing from the walk.
    for (const known of [
      '/v1/tenants',
      '/v1/providers',
      '/v1/api-keys',
      '/v1/gpu-models',
      '/v1/nodes',
      '/v1/bids',
      '/v1/quotes',
      '/v1/webhooks',
    ]) {
      expect(routes.map((r) => r.path)).toContain(known);
    }
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const { method, path } of routes) {
      const response = await send(method, path, keyFor(path), deepBody(2_000));
      expect(response.status, `${method} ${path}: ${JSON.stringify(response.body)}`).toBe(400);
      expect(response.body).toMatchObject({
        error: 'validation_failed',
        details: [
          { field: '(body)', rule: 'too_deep', message: expect.stringContaining(`the limit is ${MAX_JSON_DEPTH}`) },
        ],
        requestId: expect.any(String),
      });
    }
  });

  it('answers the deepest nesting the 1 MB limit allows with 400, not a crash', async () => {
    const levels = 150_000; // about 900 KB
    const response = await send('post', '/v1/bids', tenant.apiKey, '{"a":'.repeat(levels) + '1' + '}'.repeat(levels));
    expect(response.status).toBe(400);
    expect(response.body.details[0].rule).toBe('too_deep');
  });

  it('lets a body at the limit through to the field checks', async () => {
    const response = await send(
      'post',
      '/v1/tenants',
      t.adminKey,
      JSON.stringify({ name: JSON.parse(deepBody(MAX_JSON_DEPTH - 1)) }),
    );
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field: 'name', rule: 'is_string' }));
  });
});

describe('width and size', () => {
  it.each([
    [
      '120,000 empty nodes',
      'put',
      '/v1/nodes',
      () => providerKey,
      `{"nodes":[${Array(120_000).fill('{}').join(',')}]}`,
      'nodes',
    ],
    [
      '24,000 offers',
      'post',
      '/v1/bids',
      () => tenant.apiKey,
      `{"offers":[${Array(24_000).fill('{"a":1}').join(',')}]}`,
      'offers',
    ],
  ] as const)(
    'answers a body of %s with 400 too_many_items naming the field, not a 500',
    async (_what, method, path, key, raw, field) => {
      const response = await send(method, path, key(), raw);
      expect(response.status, JSON.stringify(response.body).slice(0, 500)).toBe(400);
      expect(response.body.details).toEqual([
        { field, rule: 'too_many_items', message: expect.stringContaining(`the limit is ${MAX_JSON_ITEMS}`) },
      ]);
    },
  );

  it('answers a body of more than the values limit with 400 too_many_values', async () => {
    const nodes = Array.from({ length: MAX_JSON_ITEMS }, () => ({
      compliance: Array(Math.ceil(MAX_JSON_VALUES / MAX_JSON_ITEMS)).fill('x'),
    }));
    const response = await t.http().put('/v1/nodes').set(auth(providerKey)).send({ nodes });
    expect(response.status).toBe(400);
    expect(response.body.details).toEqual([
      { field: '(body)', rule: 'too_many_values', message: expect.stringContaining(`the limit is ${MAX_JSON_VALUES}`) },
    ]);
  });

  it('still takes the largest legitimate request: 1,000 nodes with 32 compliance tags each', async () => {
    const compliance = Array.from({ length: 32 }, (_, i) => `tag-${i}`);
    const nodes = Array.from({ length: 1_000 }, (_, i) => node(`wide-${i}`, { compliance }));
    const response = await t.http().put('/v1/nodes').set(auth(providerKey)).send({ nodes });
    expect(response.status, JSON.stringify(response.body).slice(0, 500)).toBe(200);
  });
});

describe('control characters', () => {
  it.each([
    ['a tenant name', 'post', '/v1/tenants', () => t.adminKey, { name: 'acme\u0000' }, 'name'],
    [
      'a provider name',
      'post',
      '/v1/providers',
      () => t.adminKey,
      { name: 'north\u0000', adapter: 'simulated' },
      'name',
    ],
    ['an API key name', 'post', '/v1/api-keys', () => t.adminKey, { role: 'finance', name: 'ci\u0000' }, 'name'],
    [
      'an offer GPU model',
      'post',
      '/v1/bids',
      () => tenant.apiKey,
      bidBody({ offers: [{ gpuModel: 'H100-SXM-80GB\u0000', maxPrice: '2.50' }] }),
      'offers[0].gpuModel',
    ],
    [
      'a workload image',
      'post',
      '/v1/bids',
      () => tenant.apiKey,
      bidBody({ workload: { image: 'img\u0000' } }),
      'workload.image',
    ],
    [
      'a workload env value',
      'post',
      '/v1/quotes',
      () => tenant.apiKey,
      bidBody({ workload: { image: 'x', env: { A: '1\u0000' } } }),
      'workload.env.A',
    ],
    [
      'a node externalId',
      'put',
      '/v1/nodes',
      () => providerKey,
      { nodes: [node('gpu-\u0000')] },
      'nodes[0].externalId',
    ],
    ['an escape sequence in a tenant name', 'post', '/v1/tenants', () => t.adminKey, { name: '\u001b[2Jacme' }, 'name'],
    ['a line break in a tenant name', 'post', '/v1/tenants', () => t.adminKey, { name: 'acme\nadmin' }, 'name'],
  ] as const)(
    'answers a control character in %s with 400 naming the field',
    async (_what, method, path, key, body, field) => {
      const response = await t.http()[method](path).set(auth(key())).send(body);
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.details).toContainEqual({
        field,
        rule: 'control_character',
        message: expect.stringContaining(field),
      });
    },
  );

  it.each([
    ['the agent leases node', '/v1/agent/leases?node=gpu%0001', 'node'],
    ['the agent orders node', '/v1/agent/orders?node=%00', 'node'],
    ['a node report filter', '/v1/reports/node-prices?node=a%00', 'node'],
  ])('answers NUL in %s query parameter with 400 naming it', async (_what, url, field) => {
    const response = await t.http().get(url).set(auth(providerKey));
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.details).toContainEqual(expect.objectContaining({ field, rule: 'control_character' }));
  });

  it.each([
    ['a bid id', 'get', '/v1/bids/a%00b', () => tenant.apiKey],
    ['a node id', 'patch', '/v1/nodes/%00', () => providerKey],
    ['an order id', 'post', '/v1/agent/orders/x%01/ack', () => providerKey],
  ] as const)(
    'answers a control character in %s path parameter with 400 naming it',
    async (_what, method, path, key) => {
      const response = await t
        .http()
        [method](path)
        .set(auth(key()))
        .send(method === 'get' ? undefined : { ok: true, state: 'active' });
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.details).toEqual([expect.objectContaining({ field: 'id', rule: 'control_character' })]);
    },
  );

  it('accepts line breaks in a workload script and env value, and stores them', async () => {
    const workload = {
      command: ['sh', '-c', 'set -e\n\techo ready\n'],
      env: { CERT: '-----BEGIN-----\nabc\n-----END-----\n' },
    };
    const response = await t.http().post('/v1/bids').set(auth(tenant.apiKey)).send(bidBody({ workload }));
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    expect(response.body.workload).toMatchObject(workload);
  });

  it('writes nothing for a refused request', async () => {
    const count = async () => (await t.dataSource.query('SELECT count(*)::int AS n FROM tenants'))[0].n as number;
    const before = await count();
    await t.http().post('/v1/tenants').set(auth(t.adminKey)).send({ name: 'x\u0000' }).expect(400);
    expect(await count()).toBe(before);
  });
});

describe('bodies that are not objects', () => {
  it.each([['null'], ['"acme"'], ['42'], ['true'], ['[{"name": "acme"}]']])(
    'answers %s as a body with 400 "body must be an object"',
    async (raw) => {
      const response = await send('post', '/v1/tenants', t.adminKey, raw);
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({
        error: 'validation_failed',
        details: [{ field: '(body)', rule: 'is_object', message: 'body must be an object' }],
      });
    },
  );

  it('still calls broken JSON malformed', async () => {
    const response = await send('post', '/v1/tenants', t.adminKey, 'nul');
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('malformed_json');
  });
});

describe('prototype keys', () => {
  it.each([
    [
      '__proto__ at the top',
      '/v1/tenants',
      () => t.adminKey,
      '{"name": "acme", "__proto__": {"admin": true}}',
      '__proto__',
    ],
    [
      'constructor at the top',
      '/v1/tenants',
      () => t.adminKey,
      '{"name": "acme", "constructor": {"prototype": {"admin": true}}}',
      'constructor',
    ],
    [
      '__proto__ in a workload',
      '/v1/bids',
      () => tenant.apiKey,
      JSON.stringify(bidBody()).replace('"workload":{', '"workload":{"__proto__":{"x":1},'),
      'workload.__proto__',
    ],
    [
      'constructor in an offer',
      '/v1/bids',
      () => tenant.apiKey,
      JSON.stringify(bidBody()).replace('"offers":[{', '"offers":[{"constructor":1,'),
      'offers[0].constructor',
    ],
  ])('answers %s as an unknown field', async (_what, path, key, raw, field) => {
    const response = await send('post', path, key(), raw);
    expect(response.status, JSON.stringify(response.body)).toBe(400);
    expect(response.body.details).toContainEqual({
      field,
      rule: 'unknown_field',
      message: expect.stringContaining('should not exist'),
    });
  });

  it('answers __proto__ in a query as an unknown field', async () => {
    const response = await t.http().get('/v1/bids?__proto__=x').set(auth(tenant.apiKey));
    expect(response.status).toBe(400);
    expect(response.body.details).toContainEqual(
      expect.objectContaining({ field: '__proto__', rule: 'unknown_field' }),
    );
  });
});

describe('database errors in the log', () => {
  let written: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    written = [];
  });
  function captureOutput() {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
        written.push(String(chunk));
        return write(chunk, ...(rest as []));
      }) as typeof stream.write);
    }
  }

  it('never carry the failed query parameters, such as a key hash', async () => {
    const keyHash = hashApiKey(`gm_${randomUUID()}`);
    captureOutput();
    // An INSERT the database refuses (NUL in text), and one whose error message quotes its input.
    await expect(
      t.dataSource.query(`INSERT INTO api_keys (key_hash, key_prefix, role, name) VALUES ($1, 'gm_x', 'finance', $2)`, [
        keyHash,
        'ci\u0000',
      ]),
    ).rejects.toThrow();
    await expect(t.dataSource.query('SELECT $1::uuid', [keyHash])).rejects.toThrow();
    const log = written.join('');
    expect(log).toContain('query failed');
    expect(log).toContain('INSERT INTO api_keys');
    expect(log).not.toContain(keyHash);
    expect(log).not.toContain('PARAMETERS');
  });
});
