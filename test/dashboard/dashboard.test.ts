import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { past, until } from '../support/until.js';
import { Money } from '../../src/core/money/money.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(process.cwd(), 'artifacts', 'dashboard.png');
const H100 = 'H100-SXM-80GB';
const A100 = 'A100-SXM-80GB';

/** What the page shows for an exact amount: cents, half-even (the API's figure, shortened for display). */
const cents = (exact: string | Money) => new Money(exact).toDecimalPlaces(2, Money.ROUND_HALF_EVEN).toFixed(2);
/** Six places, half-even: how the API states a ratio. */
const ratio6 = (value: Money) => value.toDecimalPlaces(6, Money.ROUND_HALF_EVEN);

interface LedgerSums {
  gpuSeconds: string;
  charges: string;
  uplift: string;
  payouts: string;
  fees: string;
}
const SUMS = `COALESCE(sum(e.seconds::bigint * e.gpus), 0)::text AS "gpuSeconds", COALESCE(sum(e.charge), 0)::text AS charges,
  COALESCE(sum(e.uplift), 0)::text AS uplift, COALESCE(sum(e.payout), 0)::text AS payouts, COALESCE(sum(e.fee), 0)::text AS fees`;
const gpuHours = (seconds: string) => new Money(seconds).dividedBy(3600);

/** The little of the DOM the pixel count uses (the tests compile without the DOM library). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}

/** Pixels of a chart's canvas that carry colour: axes and grid are grey, only plotted series are not. */
const colouredPixels = (page: Page, chart: string) =>
  page.evaluate((selector) => {
    const dom = globalThis as unknown as { document: { querySelector(selector: string): CanvasLike | null } };
    const canvas = dom.document.querySelector(`${selector} canvas`);
    if (!canvas) return -1;
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (
        data[i + 3] > 0 &&
        Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60
      )
        count++;
    }
    return count;
  }, chart);

describe('the finance dashboard in a real headless browser', () => {
  let t: TestApp;
  let baseUrl: string;
  let financeKey: string;
  let tenantKey: string;
  let context: BrowserContext;
  let profile: string;
  let firstPeriod: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`);
    t = await createTestApp({ MIN_HOLD_SECONDS: '1', MARKET_FEE_PERCENT: '10' });
    const provider = await createProvider(t, 'sim-provider');
    const a100 = node('a100-a', { gpuModel: A100, region: 'us-east', reservePrice: '0.90' });
    await putNodes(t, provider.apiKey, [node('h100-a', { reservePrice: '1.50' }), a100]);
    const fleet = new SimulatedAdapter({
      nodes: [
        { externalId: 'h100-a', gpus: 8 },
        { externalId: 'a100-a', gpus: 8 },
      ],
      timeScale: 1,
    });
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    const rounds = t.app.get(RoundService);
    const sync = t.app.get(LeaseSyncService);
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    // A day and an hour ago, with no bids, the pools were priced at their reserves; the H100
    // provider has asked more since, so its index is up over 24 hours.
    await rounds.runRound({ periodStart: new Date(minute - 25 * 3600_000) });
    await putNodes(t, provider.apiKey, [node('h100-a', { reservePrice: '1.70' }), a100]);

    const tenant = await createTenant(t, 'dash-tenant');
    tenantKey = tenant.apiKey;
    const rival = await createTenant(t, 'rival-lab');
    const post = async (key: string, body: Record<string, unknown>) => {
      const response = await t.http().post('/v1/bids').set(auth(key)).send(bidBody(body));
      expect(response.status, JSON.stringify(response.body)).toBe(201);
    };
    await post(rival.apiKey, { gpus: 4, offers: [{ gpuModel: H100, maxPrice: '3.00' }] });
    // Preemptible: a later, richer bid for the whole node displaces it.
    await post(tenant.apiKey, { gpus: 4, offers: [{ gpuModel: A100, maxPrice: '2.00' }], preemptible: true });
    // Below the H100 reserve: it loses, so the audit has a loser with its reason.
    await post(tenant.apiKey, { gpus: 8, offers: [{ gpuModel: H100, maxPrice: '1.00' }] });
    // A few rounds in the minutes just past, so they fall in the page's default range.
    await rounds.runRound({ periodStart: new Date(minute - 5 * 60_000) });
    firstPeriod = new Date(minute - 5 * 60_000).toISOString().replace('T', ' ').slice(0, 19);
    await until('both leases running', async () => {
      await sync.syncAll();
      const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM leases WHERE state = 'running'`);
      return row.n === 2;
    });
    // Settlement charges whole seconds of running: a little over a second between rounds bills each one.
    let last = Date.now();
    for (const ago of [4, 3]) {
      await past(new Date(last), 1_100);
      await rounds.runRound({ periodStart: new Date(minute - ago * 60_000) });
      last = Date.now();
    }
    const [held] = await t.dataSource.query(`SELECT max(protected_until) AS until FROM leases WHERE preemptible`);
    await past(held.until);
    await past(new Date(last), 1_100);
    await post(rival.apiKey, { gpus: 8, offers: [{ gpuModel: A100, maxPrice: '9.00' }] });
    await rounds.runRound({ periodStart: new Date(minute - 2 * 60_000) });
    const [noticed] = await t.dataSource.query(
      `SELECT count(*)::int AS n FROM market_events WHERE type = 'lease.preemption_notice'`,
    );
    expect(noticed.n, 'the preemptible A100 lease was displaced').toBe(1);
    // Its workload stops on the notice's SIGTERM, and the stop, once seen, ends and bills the lease
    // (docs/finance.md): wait for that here, so the ledger does not move while the page is read.
    await until('the displaced lease ended at its stop', async () => {
      await sync.syncAll();
      const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM leases WHERE state = 'preempted'`);
      return row.n === 1;
    });

    const finance = await t
      .http()
      .post('/v1/api-keys')
      .set(auth(t.adminKey))
      .send({ role: 'finance', name: 'dashboard viewer' });
    financeKey = finance.body.apiKey;

    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    profile = mkdtempSync(join(tmpdir(), 'gpumarket-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
  });

  /**
   * The ledger's own sums (everything the seeding wrote falls in the page's range), optionally of one pool or
   * grouped.
   */
  const ledger = async (where = 'true', params: unknown[] = []): Promise<LedgerSums> =>
    (
      await t.dataSource.query(
        `SELECT ${SUMS} FROM ledger_entries e JOIN leases l ON l.id = e.lease_id WHERE ${where}`,
        params,
      )
    )[0];

  const open = async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    const outside: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    // Anything not served by the service itself (a CDN, a font) is refused and recorded.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(baseUrl) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    await page.goto(`${baseUrl}/dashboard`);
    await page.fill('#api-key', financeKey);
    await page.click('button[type=submit]');
    await page.waitForSelector('body[data-loaded=true]', { timeout: 15_000 });
    return { page, problems, outside };
  };

  const rowsOf = (page: Page, table: string) =>
    page.$$eval(`${table} tbody tr`, (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())),
    );

  it('loads offline against the running service, draws every chart in steps, shows the money, pools, providers and tenants from the ledger, opens a round audit with names and saves a screenshot', async () => {
    const { page, problems, outside } = await open();

    for (const chart of ['#price-chart', '#utilization-chart', '#revenue-chart']) {
      expect(Number(await page.getAttribute(chart, 'data-points')), chart).toBeGreaterThan(0);
      expect(await colouredPixels(page, chart), chart).toBeGreaterThan(100);
    }
    // The price chart draws the pool index, says so, shades the node-price band behind it and adds the volume.
    expect(await page.locator('#price-chart .u-legend .u-series').allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringContaining('A100-SXM-80GB · us-east index'),
        expect.stringContaining('H100-SXM-80GB · eu-west index'),
        expect.stringContaining('H100-SXM-80GB · eu-west lowest node'),
        expect.stringContaining('H100-SXM-80GB · eu-west highest node'),
        expect.stringContaining('GPU-hours sold'),
      ]),
    );
    expect(await page.locator('section:has(#price-chart) h2').textContent()).toMatch(
      /Pool index.*in steps.*node-price band.*GPU-hours sold/,
    );

    // Money over the range, from the ledger itself: cents shown, the exact figure in the title.
    const all = await ledger();
    expect(new Money(all.charges).greaterThan(0)).toBe(true);
    const money = Object.fromEntries(
      await page.$$eval('#money dd', (dds) =>
        dds.map((dd) => [dd.getAttribute('data-figure'), [dd.textContent, dd.getAttribute('title')]]),
      ),
    );
    const netFees = new Money(all.fees).minus(all.uplift);
    expect(money.charges).toEqual([cents(all.charges), new Money(all.charges).toFixed(6)]);
    expect(money.payouts).toEqual([cents(all.payouts), new Money(all.payouts).toFixed(6)]);
    expect(money.fees).toEqual([cents(all.fees), new Money(all.fees).toFixed(6)]);
    expect(money.uplift[0]).toBe(cents(all.uplift));
    expect(money.netFees[0]).toBe(cents(netFees));
    expect(money.gpuHours[0]).toBe(cents(gpuHours(all.gpuSeconds)));
    const takeRate = ratio6(netFees.dividedBy(all.charges));
    expect(money.takeRate[0]).toBe(`${takeRate.times(100).toDecimalPlaces(2, Money.ROUND_HALF_EVEN).toFixed(2)} %`);
    expect(money.takeRate[1]).toBe(takeRate.toFixed(6));
    // A 10% fee on charges + uplift, less the uplift: with no capped lease, the take rate is 10.00 %.
    if (new Money(all.uplift).isZero()) expect(money.takeRate[0]).toBe('10.00 %');

    // Providers and tenants, each row from the ledger.
    const provider = await ledger(`e.provider_id = (SELECT id FROM providers WHERE name = 'sim-provider')`);
    expect(await rowsOf(page, '#providers')).toEqual([
      [
        'sim-provider',
        cents(gpuHours(provider.gpuSeconds)),
        cents(provider.charges),
        cents(provider.uplift),
        cents(provider.fees),
        cents(provider.payouts),
      ],
    ]);
    const tenantRow = async (name: string) => {
      const sums = await ledger(`e.tenant_id = (SELECT id FROM tenants WHERE name = $1)`, [name]);
      return [
        name,
        cents(gpuHours(sums.gpuSeconds)),
        cents(sums.charges),
        cents(sums.uplift),
        cents(sums.fees),
        cents(new Money(sums.fees).minus(sums.uplift)),
      ];
    };
    expect(await rowsOf(page, '#tenants')).toEqual([await tenantRow('dash-tenant'), await tenantRow('rival-lab')]);

    // Pools now: the index and its 24 h change from the pool prices, the price to win as a tenant's quote gives it,
    // preemptions per preemptible GPU-hour from the events and the ledger.
    const pools = await rowsOf(page, '#pools');
    expect(pools.map((r) => r[0])).toEqual([`${A100} · us-east`, `${H100} · eu-west`]);
    for (const [i, [gpuModel, region]] of [
      [A100, 'us-east'],
      [H100, 'eu-west'],
    ].entries()) {
      const prices = await t.dataSource.query(
        `SELECT pp.price::text AS price, pp.min_node_price::text AS min, pp.median_node_price::text AS median, pp.max_node_price::text AS max, pp.period_start
           FROM pool_prices pp JOIN rounds r ON r.id = pp.round_id AND r.state = 'committed'
          WHERE pp.gpu_model = $1 AND pp.region = $2 ORDER BY pp.period_start DESC`,
        [gpuModel, region],
      );
      const now = prices[0];
      const dayAgo = prices.find((p: { period_start: Date }) => p.period_start.getTime() < Date.now() - 86_400_000);
      const change = new Money(now.price).minus(dayAgo.price);
      const pct = change.times(100).dividedBy(dayAgo.price).toDecimalPlaces(2, Money.ROUND_HALF_EVEN).toFixed(2);
      const sign = (text: string) => (change.isZero() ? text : change.isPositive() ? `+${text}` : text);
      const quote = await t
        .http()
        .post('/v1/quotes')
        .set(auth(tenantKey))
        .send({
          gpus: 1,
          offers: [{ gpuModel, maxPrice: '10000' }],
          contiguity: 'none',
          preemptible: false,
          runtimeSeconds: 3600,
          regions: [region],
          workload: { command: ['true'] },
        });
      const option = quote.body.offers[0].options.find(
        (o: { contiguity: string; preemptible: boolean; timing: string }) =>
          o.contiguity === 'none' && !o.preemptible && o.timing === 'now',
      );
      const pool = await ledger('e.gpu_model = $1 AND e.region = $2', [gpuModel, region]);
      const preemptible = await ledger('e.gpu_model = $1 AND e.region = $2 AND l.preemptible', [gpuModel, region]);
      const [events] = await t.dataSource.query(
        `SELECT count(*)::int AS n FROM market_events me JOIN leases l ON l.id = me.subject_id
          WHERE me.type = 'lease.preemption_notice' AND l.gpu_model = $1 AND EXISTS (SELECT 1 FROM lease_nodes ln WHERE ln.lease_id = l.id AND ln.region = $2)`,
        [gpuModel, region],
      );
      const rate = new Money(preemptible.gpuSeconds).isZero()
        ? '—'
        : ratio6(new Money(events.n).times(3600).dividedBy(preemptible.gpuSeconds)).toFixed(6);
      expect(pools[i], gpuModel).toEqual([
        `${gpuModel} · ${region}`,
        new Money(now.price).toFixed(Math.max(2, new Money(now.price).decimalPlaces())),
        `${sign(change.toFixed(2))} (${sign(pct)} %)`,
        [now.min, now.median, now.max]
          .map((v) => new Money(v).toFixed(Math.max(2, new Money(v).decimalPlaces())))
          .join(' / '),
        // A pool with no GPU free or displaceable now says why it has no price to win.
        option.priceToWin ?? option.reason,
        cents(gpuHours(pool.gpuSeconds)),
        cents(gpuHours(preemptible.gpuSeconds)),
        String(events.n),
        rate,
      ]);
    }
    // The scenario behind those figures: H100's reserve went from 1.50 to 1.70, and the A100 lease was preempted once.
    expect(pools[1][2]).toBe('+0.20 (+13.33 %)');
    expect(pools[0][7]).toBe('1');
    expect(pools[0][8]).not.toBe('—');
    // The rival's 8-GPU lease now holds the whole A100 node and nobody may displace it; H100 has free GPUs.
    expect(pools[0][4]).toBe('no_capacity_for_contiguity');
    expect(pools[1][4]).toMatch(/^\d+\.\d{6}$/);

    // A CSV link downloads what the table shows, at the API's exact figures.
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#tenants-csv')]);
    const csv = parse(readFileSync((await file.path())!, 'utf8'), { columns: true }) as Array<Record<string, string>>;
    const dash = await ledger(`e.tenant_id = (SELECT id FROM tenants WHERE name = 'dash-tenant')`);
    expect(csv.map((r) => r.tenantName)).toEqual(['dash-tenant', 'rival-lab']);
    expect(csv[0].charges).toBe(new Money(dash.charges).toFixed(6));
    const [poolsFile] = await Promise.all([page.waitForEvent('download'), page.click('#pools-csv')]);
    expect(readFileSync((await poolsFile.path())!, 'utf8')).toMatch(/^gpuModel,region,roundId,periodStart,index,/);

    expect(await page.locator('#rounds tbody tr').count()).toBeGreaterThanOrEqual(5);
    expect(await page.textContent('#reconciliation')).toContain('ledger reconciled');
    expect(await page.textContent('#reconciliation')).toContain(`charges ${new Money(all.charges).toFixed(6)}`);
    expect(await page.textContent('#reconciliation')).toMatch(/\+ uplift \d+\.\d{6} = payouts/);

    // The first round placed both bids; its audit names tenants, nodes and providers and shows that round's prices.
    await page.locator('#rounds tbody tr', { hasText: firstPeriod }).click();
    await page.waitForSelector('#audit:not([hidden])');
    expect(await page.locator('#audit-pools tbody tr').count()).toBe(2);
    expect(await page.locator('#audit-winners tbody tr').count()).toBe(2);
    const roundList = (await t.http().get('/v1/rounds?limit=20').set(auth(financeKey))).body.rounds;
    const firstRound = roundList.find(
      (r: { periodStart: string }) => r.periodStart.replace('T', ' ').slice(0, 19) === firstPeriod,
    );
    const audit = (await t.http().get(`/v1/reports/rounds/${firstRound.id}/audit`).set(auth(financeKey))).body;
    const roundPrices = await t.dataSource.query(
      `SELECT gpu_model, region, price::text AS price FROM pool_prices WHERE round_id = $1`,
      [firstRound.id],
    );
    const poolRows = await rowsOf(page, '#audit-pools');
    for (const pool of audit.pools) {
      const row = poolRows.find((r) => r[0] === `${pool.gpuModel} · ${pool.region}`)!;
      expect(
        new Money(row[1]).equals(roundPrices.find((p: { gpu_model: string }) => p.gpu_model === pool.gpuModel).price),
        `${pool.gpuModel} index of that round`,
      ).toBe(true);
      expect(row[2]).toBe(`${pool.nodePrices.min} / ${pool.nodePrices.median} / ${pool.nodePrices.max}`);
    }
    const winnerRows = await rowsOf(page, '#audit-winners');
    for (const winner of audit.winners) {
      expect(winner.unitPrice).not.toBeNull();
      const row = winnerRows.find((r) => r[8] === winner.bidId)!;
      const [np] = await t.dataSource.query(
        `SELECT n.external_id, np.price::text AS price FROM node_prices np JOIN nodes n ON n.id = np.node_id WHERE np.round_id = $1 AND np.node_id = $2`,
        [firstRound.id, winner.nodes[0].nodeId],
      );
      const tenantName = winner.gpuModel === H100 ? 'rival-lab' : 'dash-tenant';
      expect(row.slice(0, 6)).toEqual([
        tenantName,
        winner.gpuModel,
        String(winner.gpus),
        winner.limitPrice,
        winner.unitPrice,
        winner.uplift,
      ]);
      expect(row[6]).toBe(
        `${np.external_id} of sim-provider: ${winner.nodes[0].gpus} at ${winner.nodes[0].roundNodePrice}`,
      );
      expect(new Money(winner.nodes[0].roundNodePrice).equals(np.price)).toBe(true);
    }
    expect(await page.textContent('#audit-summary')).toMatch(/2 winner\(s\), 1 loser\(s\)/);
    const loserRows = await rowsOf(page, '#audit-losers');
    expect(loserRows.map((r) => [r[0], r[2]])).toEqual([['dash-tenant', 'below_reserve']]);
    // No 8-character id prefixes anywhere in the audit (eight hex digits standing alone, at least one a letter).
    expect(await page.textContent('#audit')).not.toMatch(/(^|[^0-9a-f-])(?=[0-9]*[a-f])[0-9a-f]{8}([^0-9a-f-]|$)/);

    mkdirSync(join(process.cwd(), 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    console.log(`dashboard screenshot: ${SCREENSHOT}`);
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
    await page.close();
  });

  it('narrows the charts, the money and the tables to the pool picked', async () => {
    const { page, problems } = await open();
    await page.selectOption('#pool', `${H100}|eu-west`);
    await page.waitForSelector('body[data-loaded=true]');
    await until('the H100 figures', async () => (await page.textContent('#money-scope'))?.includes(H100) ?? false);
    const h100 = await ledger('e.gpu_model = $1', [H100]);
    expect(await page.textContent('#money dd[data-figure=charges]')).toBe(cents(h100.charges));
    expect((await rowsOf(page, '#tenants')).map((r) => [r[0], r[2]])).toEqual([['rival-lab', cents(h100.charges)]]);
    const legend = await page.locator('#price-chart .u-legend .u-series').allTextContents();
    expect(legend.some((l) => l.includes(A100))).toBe(false);
    expect(legend.some((l) => l.includes(`${H100} · eu-west index`))).toBe(true);
    expect(await page.getAttribute(`#pools tbody tr[data-pool="${H100}|eu-west"]`, 'class')).toBe('selected');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('tells a tenant key that it may not read finance reports', async () => {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/dashboard`);
    await page.fill('#api-key', tenantKey);
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toContain('finance or admin key');
    await page.close();
  });

  it('serves only its own assets', async () => {
    expect((await t.http().get('/dashboard/assets/uplot.js')).headers['content-type']).toMatch(/javascript/);
    expect((await t.http().get('/dashboard/assets/..%2Fpackage.json')).status).toBe(404);
    expect((await t.http().get('/dashboard/assets/index.html')).status).toBe(404);
  });
});
