import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { MarketEventsRepository, type MarketEvent } from '../../src/modules/leases/market-events.repository.js';
import { OutboxRelayService } from '../../src/platform/outbox/outbox-relay.service.js';
import { TenantsService } from '../../src/modules/tenants/tenants.service.js';
import { WebhooksService } from '../../src/modules/webhooks/webhooks.service.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { TransactionRunner } from '../../src/platform/database/transaction-runner.js';
import { createServer } from '../../src/server.js';

/**
 * `npm run bench:webhooks`: time from an event's commit to its webhook arriving at a receiver,
 * on real PostgreSQL with BullMQ on the local Redis, as the service runs it: the event is
 * written through the market's events repository (which fans it out to deliveries and outbox
 * rows in the same transaction), the commit is followed by a relay (as a round and a status
 * report do), and the `webhook.deliver` workers sign and POST it to a receiver on 127.0.0.1 (on
 * a thread of its own, as a receiver is never in the service's process).
 * Two shapes of 1,000 events: one event per commit at a steady rate, and all of them in one
 * commit (a large round).
 */
const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    tenants: { type: 'string', default: '50' },
    rate: { type: 'string', default: '50', short: 'r' },
    concurrency: { type: 'string' },
    // bullmq: BullMQ on Redis (production); in-process: the driver used when REDIS_URL is unset.
    driver: { type: 'string', default: 'bullmq' },
    // both, steady or burst: which shapes to run (burst alone for quick comparisons).
    shape: { type: 'string', default: 'both' },
    // A file to write a CPU profile of this process during the burst to (open it in Chrome's DevTools).
    'cpu-profile': { type: 'string' },
    'admin-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const EVENTS = Number(values.events);
if (values.driver !== 'bullmq' && values.driver !== 'in-process') throw new Error('--driver is bullmq or in-process');
if (!['both', 'steady', 'burst'].includes(values.shape!)) throw new Error('--shape is both, steady or burst');
const RATE = Number(values.rate);
const NAME = 'gpumarket_bench_webhooks';

// When each event's webhook arrived, on the monotonic clock that the receiver's thread shares.
const now = () => Number(process.hrtime.bigint()) / 1e6;
const received = new Map<string, number>();
const receiver = new Worker(new URL('./receiver-worker.js', import.meta.url));
const receiverPort = await new Promise<number>((resolve, reject) => {
  receiver.on('message', (message: { port?: number; arrivals?: Array<[string, number]> }) => {
    if (message.port) resolve(message.port);
    for (const [id, at] of message.arrivals ?? []) if (!received.has(id)) received.set(id, at);
  });
  receiver.once('error', reject);
});
const receiverUrl = `http://127.0.0.1:${receiverPort}/hook`;

const admin = new pg.Client({ connectionString: values['admin-url'] });
await admin.connect();
await admin.query(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${NAME}`);
await admin.end();
const url = new URL(values['admin-url']);
url.pathname = `/${NAME}`;
const config = loadConfig({
  DATABASE_URL: url.toString(),
  ...(values.driver === 'bullmq' ? { REDIS_URL: values['redis-url'] } : {}),
  QUEUE_PREFIX: `bench-webhooks-${randomBytes(4).toString('hex')}`,
  ADMIN_API_KEY: randomBytes(24).toString('hex'),
  ROUND_PERIOD_SECONDS: '86400',
  DEMO_FLEET: 'false',
  LOG_LEVEL: 'error',
  WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex'),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  ...(values.concurrency ? { WEBHOOK_CONCURRENCY: values.concurrency } : {}),
});
const server = await createServer(config, { logger: ['error'] });
const transactions = server.app.get(TransactionRunner);
const events = server.app.get(MarketEventsRepository);
const relay = server.app.get(OutboxRelayService);

// Tenants, each with one endpoint at the receiver, registered as the API registers them.
const tenantIds: string[] = [];
for (let i = 0; i < Number(values.tenants); i++) {
  const tenant = await server.app.get(TenantsService).create(`bench-${i}`);
  await server.app.get(WebhooksService).register(tenant.id, { url: receiverUrl, events: ['lease.running'] });
  tenantIds.push(tenant.id);
}

const event = (n: string, i: number): MarketEvent => ({
  tenantId: tenantIds[i % tenantIds.length],
  type: 'lease.running',
  subjectId: randomUUID(),
  data: { n },
});

async function waitForAll(ids: readonly string[], timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (ids.some((id) => !received.has(id)) && Date.now() - started < timeoutMs)
    await new Promise((r) => setTimeout(r, 20));
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function row(shape: string, committedAt: Map<string, number>): string {
  const latencies = [...committedAt]
    .filter(([id]) => received.has(id))
    .map(([id, at]) => received.get(id)! - at)
    .sort((a, b) => a - b);
  const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}`);
  return `| ${shape} | ${committedAt.size} | ${latencies.length} | ${ms(percentile(latencies, 50))} | ${ms(percentile(latencies, 90))} | ${ms(percentile(latencies, 99))} | ${ms(latencies.at(-1))} |`;
}

// Warm-up: connections, the queue, the receiver's keep-alive sockets.
const warm = Array.from({ length: 50 }, (_, i) => `warm-${i}`);
await transactions.run((m) => events.add(m, warm.map(event)));
await relay.relay();
await waitForAll(warm, 30_000);

// One event per commit, RATE commits a second.
const steady = new Map<string, number>();
const started = performance.now();
for (let i = 0; i < (values.shape === 'burst' ? 0 : EVENTS); i++) {
  const due = started + (i * 1000) / RATE;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const id = `steady-${i}`;
  await transactions.run((m) => events.add(m, [event(id, i)]));
  steady.set(id, now());
  void relay.relay();
}
await waitForAll([...steady.keys()], 60_000);

/**
 * Transactions (an autocommit statement counts as one) committed in the bench's database so
 * far: the database round trips a delivery costs, for the profile. PostgreSQL publishes a
 * backend's counts within a second of its last transaction, hence the pause.
 */
async function transactionsCommitted(): Promise<number> {
  await new Promise((r) => setTimeout(r, 1_500));
  const rows: Array<{ n: string }> = await server.app
    .get(TransactionRunner)
    .run((m) => m.query('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()'));
  return Number(rows[0].n);
}

// All events in one commit.
const transactionsBefore = await transactionsCommitted();
const burst = new Map<string, number>();
const profiler = values['cpu-profile'] ? new Session() : null;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
const burstIds = Array.from({ length: values.shape === 'steady' ? 0 : EVENTS }, (_, i) => `burst-${i}`);
await transactions.run((m) => events.add(m, burstIds.map(event)));
const burstCommitted = now();
const cpuBefore = process.cpuUsage();
for (const id of burstIds) burst.set(id, burstCommitted);
await relay.relay();
// Where the burst's time goes: handing it to the queue, then the deliveries themselves.
const relayMs = now() - burstCommitted;
await waitForAll(burstIds, 60_000);
const burstWallMs = now() - burstCommitted;
const burstCpu = process.cpuUsage(cpuBefore);
if (profiler) writeFileSync(values['cpu-profile']!, JSON.stringify((await profiler.post('Profiler.stop')).profile));
const firstArrival = Math.min(...burstIds.map((id) => received.get(id) ?? Infinity)) - burstCommitted;
const burstTransactions = burstIds.length > 0 ? (await transactionsCommitted()) - transactionsBefore - 2 : 0;

const load = loadavg()[0].toFixed(1);
process.stdout.write(
  [
    `webhook commit-to-delivery latency, ms (${values.driver === 'bullmq' ? 'BullMQ' : 'in-process jobs'}, ${tenantIds.length} tenants, WEBHOOK_CONCURRENCY ${config.webhooks.concurrency}; load average ${load})`,
    '',
    '| events | committed | delivered | p50 | p90 | p99 | max |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...(steady.size > 0 ? [row(`one per commit, ${RATE}/s`, steady)] : []),
    ...(burst.size > 0 ? [row('all in one commit', burst)] : []),
    '',
    ...(burst.size > 0
      ? [
          `burst: relayed to the queue ${Math.round(relayMs)} ms after the commit; first arrival at ${Math.round(firstArrival)} ms; ${(burstTransactions / burst.size).toFixed(1)} database transactions per delivery; this process used ${Math.round((burstCpu.user + burstCpu.system) / 1000)} ms of CPU (${Math.round(burstCpu.system / 1000)} in the kernel) in the ${Math.round(burstWallMs)} ms to the last arrival`,
          '',
        ]
      : []),
  ].join('\n'),
);
await server.app.close();
receiver.postMessage('close');
const drop = new pg.Client({ connectionString: values['admin-url'] });
await drop.connect();
await drop.query(`DROP DATABASE IF EXISTS ${NAME} WITH (FORCE)`);
await drop.end();
process.exit(0);
