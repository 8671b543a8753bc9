import { execFile } from 'node:child_process';
import { chmod, mkdtemp, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { buildService } from '../support/service-process.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';

/**
 * The tenant CLI as a user runs it: the built `gpumarket` (dist/cli/main.js) as its own process,
 * against the real service on real PostgreSQL, configured by GPUMARKET_URL and GPUMARKET_KEY or
 * by the file `gpumarket login` writes.
 */
const ENTRY = resolve(import.meta.dirname, '../../dist/cli/main.js');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let t: TestApp;
let url: string;
let tenantKey: string;
let home: string;

/** Asynchronous on purpose: the service answers from this same process while the CLI runs. */
function cli(
  args: string[],
  env: Record<string, string> = { GPUMARKET_URL: url, GPUMARKET_KEY: tenantKey },
): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [ENTRY, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: home, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  buildService();
  home = await mkdtemp(join(tmpdir(), 'gpumarket-cli-home-'));
  t = await createTestApp();
  await t.app.listen(0, '127.0.0.1');
  url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  const provider = await createProvider(t, 'cli-provider');
  await putNodes(t, provider.apiKey, [
    node('cli-1', { reservePrice: '1.50' }),
    node('cli-2', { reservePrice: '1.80' }),
  ]);
  t.app.get(AdapterRegistry).use(
    provider.id,
    new SimulatedAdapter({
      nodes: [
        { externalId: 'cli-1', gpus: 8 },
        { externalId: 'cli-2', gpus: 8 },
      ],
    }),
  );
  tenantKey = (await createTenant(t, 'cli-tenant')).apiKey;
});

afterAll(async () => t?.close());

describe('gpumarket tenant CLI against a running service', () => {
  let winner: string;

  it('quotes every option of a bid, in a table and as the API JSON', async () => {
    const flags = ['--gpus', '8', '--offer', 'H100-SXM-80GB=2.00', '--runtime', '2h', '--image', 'pytorch:24.10'];
    const human = await cli(['quote', ...flags]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('8 GPU(s) for 2h; no round has priced nodes yet: prices are node reserves');
    // The requested option (node, not preemptible, now) at the cheapest node's reserve.
    expect(human.stdout).toMatch(/^\*\s+node\s+no\s+now\s+1\.500000\s+1\.500000\s+24\.000000\s+yes/m);

    const json = await cli(['quote', ...flags, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const quote = JSON.parse(json.stdout);
    expect(quote.offers[0].options).toHaveLength(8);
    expect(quote.offers[0].options.find((o: { requested: boolean }) => o.requested)).toMatchObject({
      priceToWin: '1.500000',
      cost: '24.000000',
      wouldWin: true,
    });
  });

  it('submits a bid with an idempotency key it prints, and a retry with that key makes no second bid', async () => {
    const submitted = await cli([
      'bid',
      '--gpus',
      '8',
      '--offer',
      'H100-SXM-80GB=2.50',
      '--runtime',
      '90m',
      '--deadline',
      '24h',
      '--env',
      'EPOCHS=3',
      '--',
      'python',
      'train.py',
      '--name',
      'a b',
    ]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const key = /idempotency key: (\S+)/.exec(submitted.stdout)?.[1];
    expect(key).toMatch(UUID);
    winner = /^bid:\s+(\S+)$/m.exec(submitted.stdout)![1]!;
    expect(submitted.stdout).toMatch(/^status:\s+open$/m);
    expect(submitted.stdout).toMatch(/^command:\s+python train.py --name a b$/m);

    const again = await cli([
      'bid',
      '--gpus',
      '8',
      '--offer',
      'H100-SXM-80GB=2.50',
      '--runtime',
      '90m',
      '--image',
      'pytorch:24.10',
      '--idempotency-key',
      key!,
      '--json',
    ]);
    // Same key, different body: the API refuses rather than guess.
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/409 idempotency_key_reused/);

    const json = await cli([
      'bid',
      '--gpus',
      '4',
      '--offer',
      'H100-SXM-80GB=1.00',
      '--runtime',
      '1h',
      '--preemptible',
      '--command',
      'nvidia-smi -L',
      '--idempotency-key',
      'cli-e2e-1',
      '--json',
    ]);
    expect(json.code, json.stderr).toBe(0);
    const bid = JSON.parse(json.stdout);
    expect(bid).toMatchObject({
      status: 'open',
      gpus: 4,
      preemptible: true,
      runtimeSeconds: 3600,
      idempotencyKey: 'cli-e2e-1',
      offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1.00' }],
    });
    expect(json.stderr).toContain('idempotency key: cli-e2e-1');
    const replay = await cli([
      'bid',
      '--gpus',
      '4',
      '--offer',
      'H100-SXM-80GB=1.00',
      '--runtime',
      '1h',
      '--preemptible',
      '--command',
      'nvidia-smi -L',
      '--idempotency-key',
      'cli-e2e-1',
      '--json',
    ]);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout).id).toBe(bid.id);
    expect(replay.stderr).toContain(`this idempotency key already submitted bid ${bid.id}; no new bid was made`);

    const listed = await cli(['bids', '--json']);
    expect(
      JSON.parse(listed.stdout)
        .bids.map((b: { id: string }) => b.id)
        .sort(),
    ).toEqual([winner, bid.id].sort());
    const table = await cli(['bids', '--status', 'open']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(`^${winner}\\s+open\\s+8\\s+H100-SXM-80GB<=2\\.50\\s+node\\s+no\\s+1h30m`, 'm'),
    );
  });

  it('shows a bid with the lease it won, the pool prices with their band, the leases and the charges', async () => {
    const round = await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2036, 0, 1)) });
    expect(round?.placements).toBeGreaterThan(0);

    const shown = await cli(['bid', 'show', winner]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^status:\s+allocated$/m);
    expect(shown.stdout).toMatch(/^leases:\n/m);
    const shownJson = JSON.parse((await cli(['bid', 'show', winner, '--json'])).stdout);
    expect(shownJson.leases).toHaveLength(1);

    const prices = await cli(['prices', '--json']);
    expect(prices.code, prices.stderr).toBe(0);
    const pool = JSON.parse(prices.stdout).pools[0];
    expect(pool).toMatchObject({
      gpuModel: 'H100-SXM-80GB',
      region: 'eu-west',
      roundId: round!.roundId,
      supplyGpus: 16,
      freeGpus: 8,
    });
    expect(pool.nodePrices).toEqual({ min: expect.any(String), median: expect.any(String), max: expect.any(String) });
    const pricesTable = await cli(['prices', '--region', 'eu-west']);
    expect(pricesTable.stdout).toMatch(
      new RegExp(
        `^H100-SXM-80GB\\s+eu-west\\s+${pool.price.replace('.', '\\.')}\\s+${pool.nodePrices.min.replace('.', '\\.')} / `,
        'm',
      ),
    );
    expect((await cli(['prices', '--region', 'nowhere'])).stdout).toBe('no pools\n');

    const leases = await cli(['leases']);
    expect(leases.code, leases.stderr).toBe(0);
    expect(leases.stdout).toMatch(new RegExp(`\\s${winner}\\s+(allocated|running)\\s+H100-SXM-80GB\\s+8\\s`));

    // The simulated fleet starts the lease; the next round settles its running time so far.
    let startedAt = '';
    await until('the lease to run', async () => {
      startedAt = (await t.http().get('/v1/leases?state=running').set(auth(tenantKey))).body.leases[0]?.startedAt ?? '';
      return startedAt !== '';
    });
    // Settlement charges whole seconds: wait until the lease has run at least one.
    await past(startedAt, 1100);
    await t.app.get(RoundService).runRound({ periodStart: new Date(Date.UTC(2036, 0, 1, 0, 1)) });
    const charges = await cli(['charges', '--json']);
    expect(charges.code, charges.stderr).toBe(0);
    const ledger = JSON.parse(charges.stdout);
    expect(ledger.entries.length).toBeGreaterThan(0);
    expect(ledger.entries[0]).toMatchObject({ bidId: winner, gpus: 8 });
    const table = await cli(['charges', '--from', '30d']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(
        `\\s${ledger.entries[0].leaseId}\\s+H100-SXM-80GB\\s+eu-west\\s+8\\s+\\S+\\s+${ledger.entries[0].charge.replace('.', '\\.')}\\n`,
      ),
    );
    expect(table.stdout).toContain(`total charges ${ledger.totals.charges} over ${ledger.totals.count} entries`);
  });

  it('cancels a bid, and a second cancel is refused with exit 3', async () => {
    const created = JSON.parse(
      (
        await cli([
          'bid',
          '--gpus',
          '1',
          '--offer',
          'H100-SXM-80GB=1.00',
          '--runtime',
          '1h',
          '--image',
          'busybox',
          '--json',
        ])
      ).stdout,
    );
    const cancelled = await cli(['cancel', created.id]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe(`cancelled bid ${created.id}: status cancelled\n`);
    const again = await cli(['cancel', created.id, '--json']);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stdout)).toMatchObject({ error: 'bid_already_finished' });
  });

  it("exits 3 naming the API's field and rule when it refuses a bid, 5 for an unknown bid, 4 for a bad key", async () => {
    const refused = await cli([
      'bid',
      '--gpus',
      '0',
      '--offer',
      'H100-SXM-80GB=2.123456',
      '--runtime',
      '1h',
      '--image',
      'busybox',
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/the API answered 400 validation_failed/);
    expect(refused.stderr).toMatch(/field gpus: rule min/);
    expect(refused.stderr).toMatch(/field offers\[0\]\.maxPrice: rule max_decimals/);

    const missing = await cli(['bid', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(missing.code).toBe(5);
    const badKey = await cli(['bids'], { GPUMARKET_URL: url, GPUMARKET_KEY: 'not-a-key' });
    expect(badKey.code).toBe(4);
    expect(badKey.stderr).toMatch(/the API answered 401/);
    const usage = await cli(['bid', '--gpus', '8', '--offer', 'H100-SXM-80GB=2.5', '--runtime', 'soon']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--runtime soon: expected hours/);
  });

  it('logs in to a config file of mode 0600, uses it, and refuses it once others can read it', async () => {
    const config = join(home, 'cli-config.json');
    const login = await cli(['login', '--url', url, '--key', tenantKey], { GPUMARKET_CONFIG: config });
    expect(login.code, login.stderr).toBe(0);
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const bids = await cli(['bids', '--json'], { GPUMARKET_CONFIG: config });
    expect(bids.code, bids.stderr).toBe(0);
    expect(JSON.parse(bids.stdout).bids.length).toBeGreaterThan(0);

    await chmod(config, 0o644);
    const refused = await cli(['bids'], { GPUMARKET_CONFIG: config });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `${config} has mode 0644: it holds an API key, so it must be readable by its owner only (chmod 600 ${config})`,
    );

    const wrong = await cli(['login', '--url', url, '--key', 'not-a-key'], {
      GPUMARKET_CONFIG: join(home, 'other.json'),
    });
    expect(wrong.code).toBe(4);
  });
});
