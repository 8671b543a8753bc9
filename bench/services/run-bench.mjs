#!/usr/bin/env node
// Services benchmark (docs/benchmarks.md, "Services"), against the built service on this
// machine's PostgreSQL and Redis: `npm run build && node bench/services/run-bench.mjs`.
//
// 1. Cold starts: --cold times, a new service at zero (one 1-GPU replica running
//    test/services/replica-server.mjs on the simulated fleet) gets its first request; the time
//    from sending it to its answer is split with the service's own record of the replica
//    (GET /v1/services/:id coldStarts) into: trigger (request sent -> replica bid recorded),
//    market wait (-> the fast round that placed it committed), dispatch (-> process spawned), process
//    start (-> first connection accepted), readiness (-> readiness path 200), route (-> answer).
// 2. Gateway overhead: one ready replica; GET /work at a fixed rate (--rate per second, open
//    loop, keep-alive) for --seconds, alternately straight to the replica and through the
//    gateway, --rounds times each; the difference of the percentiles is what the gateway adds.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    cold: { type: 'string', default: '20' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    port: { type: 'string', default: '3919' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'admin-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const port = Number(values.port);
const database = 'gpumarket_bench_services';
const databaseUrl = new URL(values['admin-url']);
databaseUrl.pathname = `/${database}`;
const replicaServer = resolve(import.meta.dirname, '../../test/services/replica-server.mjs');

async function admin(sql) {
  const client = new pg.Client({ connectionString: values['admin-url'] });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function json(method, path, key, body) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const sorted = (values) => [...values].sort((a, b) => a - b);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function serviceBody(name, overrides = {}) {
  return {
    name,
    replica: {
      gpus: 1,
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }],
      contiguity: 'node',
      preemptible: false,
    },
    minReplicas: 0,
    maxReplicas: 1,
    pendingTimeoutSeconds: 60,
    workload: { command: [process.execPath, replicaServer], port: 8080, readinessPath: '/ready' },
    ...overrides,
  };
}

/** GET `url` at `rate` per second for `seconds`, open loop; latencies in ms. */
async function load(url, headers, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(url);
  const latencies = [];
  let errors = 0;
  const one = () =>
    new Promise((done) => {
      const started = process.hrtime.bigint();
      const req = httpRequest(
        { host: target.hostname, port: target.port, path: target.pathname + target.search, headers, agent },
        (res) => {
          res.resume();
          res.once('end', () => {
            if (res.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            else errors += 1;
            done();
          });
        },
      );
      req.once('error', () => {
        errors += 1;
        done();
      });
      req.end();
    });
  const inFlight = [];
  const begin = performance.now();
  let sent = 0;
  while (performance.now() - begin < seconds * 1000) {
    const due = Math.floor(((performance.now() - begin) / 1000) * rate);
    for (; sent < due; sent += 1) inFlight.push(one());
    await sleep(1);
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { latencies: sorted(latencies), errors, sent };
}

await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin(`CREATE DATABASE ${database}`);
const adminKey = `bench-admin-${randomBytes(16).toString('hex')}`;
const server = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
  env: {
    ...process.env,
    DATABASE_URL: databaseUrl.toString(),
    REDIS_URL: values.redis,
    QUEUE_PREFIX: `bench-services-${randomBytes(4).toString('hex')}`,
    PORT: String(port),
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
    // Only fast rounds run: every cold start is the fast path's.
    ROUND_PERIOD_SECONDS: '86400',
    DEMO_FLEET: 'false',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let exited = false;
server.on('exit', () => (exited = true));

try {
  for (let i = 0; ; i++) {
    if (exited) throw new Error('the server exited during start-up');
    if (
      await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 600) throw new Error('the server did not become healthy in 60 s');
    await sleep(100);
  }
  const tenant = await json('POST', '/v1/tenants', adminKey, { name: 'bench-tenant' });
  const provider = await json('POST', '/v1/providers', adminKey, { name: 'bench-provider', adapter: 'simulated' });
  const nodes = Array.from({ length: 8 }, (_, i) => ({
    externalId: `node-${i}`,
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
    region: 'eu-west',
    block: 'b1',
    reservePrice: '1.50',
  }));
  await json('PUT', '/v1/nodes', provider.apiKey, { nodes });

  // 1. Cold starts. The first fast round of a fresh process also starts the clearing's worker
  // thread (a running market has it warm from its scheduled rounds): timed apart, not counted.
  {
    const svc = await json('POST', '/v1/services', tenant.apiKey, serviceBody('warm-up'));
    const sentAt = Date.now();
    const response = await fetch(`${svc.url}/work`, { headers: { Authorization: `Bearer ${svc.invokeKey}` } });
    process.stdout.write(
      `\nfirst cold start of this process (clearing worker starting): ${response.status}, ${Date.now() - sentAt} ms\n`,
    );
    await json('DELETE', `/v1/services/${svc.id}`, tenant.apiKey);
  }
  const db = new pg.Client({ connectionString: databaseUrl.toString() });
  await db.connect();
  const stages = {
    trigger: [],
    marketWait: [],
    dispatch: [],
    startSecond: [],
    processStart: [],
    readiness: [],
    route: [],
    total: [],
    overhead: [],
  };
  for (let i = 0; i < Number(values.cold); i += 1) {
    const svc = await json('POST', '/v1/services', tenant.apiKey, serviceBody(`cold-${i}`));
    const sentAt = Date.now();
    const response = await fetch(`${svc.url}/work`, { headers: { Authorization: `Bearer ${svc.invokeKey}` } });
    const doneAt = Date.now();
    if (response.status !== 200) throw new Error(`cold request ${i}: ${response.status} ${await response.text()}`);
    const view = await json('GET', `/v1/services/${svc.id}`, tenant.apiKey);
    const cold = view.coldStarts[0];
    const requestedAt = new Date(cold.requestedAt).getTime();
    const readyAt = new Date(view.replicas[0].readyAt).getTime();
    stages.trigger.push(requestedAt - sentAt);
    stages.marketWait.push(cold.marketWaitMs);
    stages.dispatch.push(cold.dispatchMs);
    stages.processStart.push(cold.processStartMs);
    stages.readiness.push(cold.readinessMs);
    stages.route.push(doneAt - readyAt);
    stages.total.push(doneAt - sentAt);
    stages.overhead.push(doneAt - sentAt - cold.processStartMs - cold.readinessMs);
    const [{ wait }] = (
      await db.query(
        `SELECT extract(epoch FROM o.not_before - ro.committed_at) * 1000 AS wait FROM service_replicas r JOIN leases l ON l.bid_id = r.bid_id
           JOIN rounds ro ON ro.id = l.round_id JOIN orders o ON o.lease_id = l.id AND o.type = 'place' WHERE r.service_id = $1`,
        [svc.id],
      )
    ).rows;
    stages.startSecond.push(Math.round(Number(wait)));
    await json('DELETE', `/v1/services/${svc.id}`, tenant.apiKey);
    // Fast rounds start at least 1 s apart: each cold start here is measured on its own.
    await sleep(1100);
  }
  await db.end();
  if (Number(values.cold) > 0) {
    process.stdout.write(
      `\ncold start from zero, ${values.cold} services, ms (fast rounds only; machine: ${cpus().length} cores, load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')})\n\n`,
    );
    process.stdout.write('| stage | p50 | p95 | max |\n| --- | --- | --- | --- |\n');
    const names = {
      trigger: 'request sent -> replica bid',
      marketWait: 'market wait (bid -> its round committed)',
      dispatch: 'dispatch (commit -> process spawned)',
      startSecond: "  of which the place order waits for the lease's start second",
      processStart: 'process start (-> listening)',
      readiness: 'readiness (-> 200 on readinessPath)',
      route: 'route (ready -> answer received)',
      total: 'total, first request',
      overhead: 'market and gateway overhead (total - process start - readiness)',
    };
    for (const [key, label] of Object.entries(names)) {
      const s = sorted(stages[key]);
      process.stdout.write(`| ${label} | ${percentile(s, 50)} | ${percentile(s, 95)} | ${s.at(-1)} |\n`);
    }
  }

  // 2. Gateway overhead on a ready replica.
  const svc = await json('POST', '/v1/services', tenant.apiKey, serviceBody('hot', { minReplicas: 1 }));
  let endpoint = null;
  for (let i = 0; !endpoint; i++) {
    if (i > 600) throw new Error('no ready replica in 60 s');
    endpoint =
      (await json('GET', `/v1/services/${svc.id}`, tenant.apiKey)).replicas.find((r) => r.state === 'ready')
        ?.endpoint ?? null;
    await sleep(100);
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const direct = { url: `http://${endpoint}/work`, headers: {} };
  const gateway = { url: `${svc.url}/work`, headers: { Authorization: `Bearer ${svc.invokeKey}` } };
  await load(gateway.url, gateway.headers, rate, 2); // warm-up
  await load(direct.url, direct.headers, rate, 2);
  process.stdout.write(
    `\nGET /work at ${rate}/s for ${seconds} s, ms (load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n\n`,
  );
  process.stdout.write(
    '| run | path | answered | errors | p50 | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n',
  );
  const results = { direct: [], gateway: [] };
  for (let round = 1; round <= Number(values.rounds); round += 1) {
    for (const [name, target] of [
      ['direct', direct],
      ['gateway', gateway],
    ]) {
      const r = await load(target.url, target.headers, rate, seconds);
      results[name].push(r);
      const l = r.latencies;
      process.stdout.write(
        `| ${round} | ${name} | ${l.length} | ${r.errors} | ${percentile(l, 50).toFixed(2)} | ${percentile(l, 90).toFixed(2)} | ${percentile(l, 99).toFixed(2)} | ${l.at(-1).toFixed(2)} |\n`,
      );
    }
  }
  for (let round = 0; round < Number(values.rounds); round += 1) {
    const d = results.direct[round].latencies;
    const g = results.gateway[round].latencies;
    process.stdout.write(
      `\nrun ${round + 1}: the gateway adds p50 ${(percentile(g, 50) - percentile(d, 50)).toFixed(2)} ms, p99 ${(percentile(g, 99) - percentile(d, 99)).toFixed(2)} ms`,
    );
  }
  process.stdout.write('\n');
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => (exited ? r() : server.once('exit', r)));
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
