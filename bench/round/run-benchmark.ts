import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { generateInstance } from '../clearing/generate-instance.js';
import { clearWithSolver } from '../../src/core/solvers/solver-for.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { loadConfig } from '../../src/platform/config/config.js';
import { createServer } from '../../src/server.js';
import { loadMarket } from './load-market.js';

/**
 * `npm run bench:round`: one clearing round of the service on real PostgreSQL, split into its
 * phases (due, snapshot, clear, commit, relay), for 1,000 and 10,000 open bids. Each size gets
 * a fresh database loaded with a generated market (nodes, running leases, open bids), a warmed
 * solver, and then one real round through RoundService, as the scheduler would run it.
 */
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000x250,10000x1000' },
    'admin-url': {
      type: 'string',
      default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'time-limit-ms': { type: 'string', default: '5000' },
  },
});

const DB_PHASES = ['due', 'snapshot', 'commit', 'relay'];

async function benchSize(bids: number, nodes: number): Promise<string> {
  const name = `gpumarket_bench_round_${bids}`;
  const admin = new pg.Client({ connectionString: values['admin-url'] });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(values['admin-url']);
  url.pathname = `/${name}`;
  const config = loadConfig({
    DATABASE_URL: url.toString(),
    REDIS_URL: values['redis-url'],
    QUEUE_PREFIX: `bench-round-${randomBytes(4).toString('hex')}`,
    ADMIN_API_KEY: randomBytes(24).toString('hex'),
    ROUND_PERIOD_SECONDS: '86400',
    ROUND_TIME_LIMIT_MS: values['time-limit-ms'],
    DEMO_FLEET: 'false',
    LOG_LEVEL: 'error',
  });
  const server = await createServer(config, { logger: ['error'] });
  try {
    const snapshot = generateInstance(bids, nodes, 42);
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await loadMarket(client, snapshot);
    await client.end();
    const summary = await server.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2040, 0, 1)) });
    if (!summary) throw new Error('the round was not claimed');
    const t = summary.timings;
    const total = ['due', 'snapshot', 'clear', 'commit', 'relay'].reduce((s, p) => s + (t[p] ?? 0), 0);
    const db = DB_PHASES.reduce((s, p) => s + (t[p] ?? 0), 0);
    const cells = [
      `${bids} x ${nodes}`,
      `${snapshot.leases.length}`,
      ...['due', 'snapshot', 'clear', 'commit', 'relay'].map((p) => `${Math.round(t[p] ?? 0)}`),
      `${Math.round(total)}`,
      `${((100 * db) / total).toFixed(1)}%`,
      `${summary.placements} / ${summary.preemptions}`,
    ];
    return `| ${cells.join(' | ')} |`;
  } finally {
    await server.app.close();
    const drop = new pg.Client({ connectionString: values['admin-url'] });
    await drop.connect();
    await drop.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await drop.end();
  }
}

// A running service compiled the solver long before its rounds; do the same before measuring.
await clearWithSolver(generateInstance(50, 20, 1), { timeLimitMs: 2_000 });
const rows: string[] = [];
for (const size of values.sizes.split(',')) {
  const [bids, nodes] = size.split('x').map(Number);
  rows.push(await benchSize(bids, nodes));
}
const load = (await import('node:os')).loadavg()[0].toFixed(1);
process.stdout.write(
  [
    `round phases on real PostgreSQL, ms (clearing budget ${values['time-limit-ms']} ms; load average ${load})`,
    '',
    '| open bids x nodes | running leases | due | snapshot | clear | commit | relay | total | database share | placed / preempted |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
process.exit(0);
