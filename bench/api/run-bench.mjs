#!/usr/bin/env node
// `npm run bench:api`: bid submissions per second and latency against the built service on the
// real PostgreSQL of this machine. Starts `gpumarket serve` as its own process on a fresh
// database, registers a tenant, a provider and nodes, then fires POST /v1/bids with autocannon
// for --seconds and prints a table. Counts the stored bids afterwards, so a figure can only come
// from bids that were really written.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    connections: { type: 'string', default: '16' },
    port: { type: 'string', default: '3917' },
    // Writes a V8 CPU profile of the service to artifacts/bench-api-profile/ (open in Chrome DevTools).
    profile: { type: 'boolean', default: false },
    // Connect the service to PostgreSQL through this Unix socket directory instead of TCP.
    'pg-socket': { type: 'string' },
    'admin-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const port = Number(values.port);
const database = 'gpumarket_bench_api';
const databaseUrl = new URL(values['admin-url']);
databaseUrl.pathname = `/${database}`;
const serviceDatabaseUrl = values['pg-socket']
  ? `postgresql://${databaseUrl.username || 'postgres'}@localhost/${database}?host=${encodeURIComponent(values['pg-socket'])}`
  : databaseUrl.toString();

async function admin(sql) {
  const client = new pg.Client({ connectionString: values['admin-url'] });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** CPU seconds (user + system) used so far by a process and its threads, from /proc. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function postgresCpuSeconds() {
  const { rows } = await admin(`SELECT pid FROM pg_stat_activity WHERE datname = '${database}'`);
  return rows.reduce((sum, r) => sum + cpuSeconds(r.pid), 0);
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

function run(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    process.once('SIGINT', () => instance.stop());
  });
}

await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin(`CREATE DATABASE ${database}`);
const adminKey = `bench-admin-${randomBytes(16).toString('hex')}`;
const profileArgs = values.profile ? ['--cpu-prof', '--cpu-prof-dir=artifacts/bench-api-profile'] : [];
const server = spawn(process.execPath, [...profileArgs, 'dist/cli/main.js', 'serve'], {
  env: {
    ...process.env,
    DATABASE_URL: serviceDatabaseUrl,
    REDIS_URL: '',
    PORT: String(port),
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
    // Measure the API alone: no clearing round runs while bids arrive.
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
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) throw new Error('the server did not become healthy in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const tenant = await json('POST', '/v1/tenants', adminKey, { name: 'bench-tenant' });
  const provider = await json('POST', '/v1/providers', adminKey, { name: 'bench-provider', adapter: 'simulated' });
  const nodes = Array.from({ length: 200 }, (_, i) => ({
    externalId: `node-${i}`,
    gpuModel: ['H100-SXM-80GB', 'H200-SXM-141GB', 'A100-SXM-80GB', 'L40S-48GB'][i % 4],
    gpus: 8,
    region: ['eu-west', 'us-east'][i % 2],
    block: `block-${i % 10}`,
    reservePrice: '1.25',
  }));
  await json('PUT', '/v1/nodes', provider.apiKey, { nodes });

  const deadline = new Date(Date.now() + 48 * 3600_000).toISOString();
  const bodies = [
    {
      gpus: 8,
      offers: [
        { gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' },
        { gpuModel: 'A100-SXM-80GB', maxPrice: '1.40' },
      ],
      contiguity: 'node',
      preemptible: false,
      runtimeSeconds: 3600,
      workload: { image: 'nvcr.io/nvidia/pytorch:24.10-py3', command: ['python', 'train.py'] },
    },
    {
      gpus: 32,
      offers: [{ gpuModel: 'H200-SXM-141GB', maxPrice: '3.9' }],
      contiguity: 'block',
      preemptible: true,
      runtimeSeconds: 4 * 3600,
      window: { deadline },
      regions: ['eu-west'],
      workload: { image: 'trainer:7', env: { EPOCHS: '3' } },
    },
    {
      gpus: 1,
      offers: [{ gpuModel: 'L40S-48GB', maxPrice: 0.8 }],
      contiguity: 'none',
      preemptible: true,
      runtimeSeconds: 600,
      compliance: [],
      workload: { command: ['infer', '--batch', '64'] },
    },
  ].map((b) => JSON.stringify(b));
  let n = 0;
  const request = {
    method: 'POST',
    path: '/v1/bids',
    setupRequest: (req) => ({
      ...req,
      body: bodies[n++ % bodies.length],
      headers: { ...req.headers, 'Idempotency-Key': randomUUID() },
    }),
  };
  const options = {
    url: `http://127.0.0.1:${port}`,
    connections,
    headers: { Authorization: `Bearer ${tenant.apiKey}`, 'Content-Type': 'application/json' },
    requests: [request],
  };
  await run({ ...options, duration: 3 }); // warm-up: JIT, connection pool, caches

  const before = { server: cpuSeconds(server.pid), postgres: await postgresCpuSeconds() };
  const countClient = new pg.Client({ connectionString: databaseUrl.toString() });
  await countClient.connect();
  const stored = async () => (await countClient.query('SELECT count(*)::int AS n FROM bids')).rows[0].n;
  const bidsBefore = await stored();
  const started = performance.now();
  const result = await run({ ...options, duration: seconds });
  const elapsed = (performance.now() - started) / 1000;
  const bidsAfter = await stored();
  await countClient.end();
  const serverCpu = cpuSeconds(server.pid) - before.server;
  const postgresCpu = (await postgresCpuSeconds()) - before.postgres;

  const written = bidsAfter - bidsBefore;
  const rows = [
    [
      'duration',
      `${seconds} s, ${connections} connections, PostgreSQL over ${values['pg-socket'] ? 'a Unix socket' : 'TCP'}`,
    ],
    [
      'bids stored',
      `${written} (2xx answered: ${result['2xx']}, non-2xx: ${result.non2xx}, errors: ${result.errors}, timeouts: ${result.timeouts})`,
    ],
    ['bids/s (stored / wall time)', (written / elapsed).toFixed(0)],
    ['latency p50', `${result.latency.p50} ms`],
    ['latency p90', `${result.latency.p90} ms`],
    ['latency p99', `${result.latency.p99} ms`],
    ['latency max', `${result.latency.max} ms`],
    ['service CPU', `${((serverCpu / elapsed) * 100).toFixed(0)}% of one core`],
    ['PostgreSQL CPU (its backends)', `${((postgresCpu / elapsed) * 100).toFixed(0)}% of one core`],
    [
      'machine',
      `${(await import('node:os')).cpus().length} cores, load average ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nPOST /v1/bids on real PostgreSQL\n\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  if (result.non2xx > 0 || result.errors > 0) process.exitCode = 1;
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => (exited ? r() : server.once('exit', r)));
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}
