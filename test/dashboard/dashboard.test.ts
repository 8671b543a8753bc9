import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterRegistry } from '../../src/modules/dispatch/adapter-registry.service.js';
import { SimulatedAdapter } from '../../src/modules/dispatch/adapters/simulated.adapter.js';
import { LeaseSyncService } from '../../src/modules/dispatch/lease-sync.service.js';
import { RoundService } from '../../src/modules/market/round.service.js';
import { auth, bidBody, createProvider, createTenant, node, putNodes } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';
import { until } from '../support/until.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(process.cwd(), 'artifacts', 'dashboard.png');

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
      if (data[i + 3] > 0 && Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 60) count++;
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
    await putNodes(t, provider.apiKey, [
      node('h100-a', { reservePrice: '1.50' }),
      node('a100-a', { gpuModel: 'A100-SXM-80GB', region: 'us-east', reservePrice: '0.90' }),
    ]);
    const fleet = new SimulatedAdapter({ nodes: [{ externalId: 'h100-a', gpus: 8 }, { externalId: 'a100-a', gpus: 8 }], timeScale: 1 });
    t.app.get(AdapterRegistry).use(provider.id, fleet);
    const tenant = await createTenant(t, 'dash-tenant');
    tenantKey = tenant.apiKey;
    for (const offer of [{ gpuModel: 'H100-SXM-80GB', maxPrice: '3.00' }, { gpuModel: 'A100-SXM-80GB', maxPrice: '2.00' }]) {
      const bid = await t.http().post('/v1/bids').set(auth(tenant.apiKey)).send(bidBody({ gpus: 4, offers: [offer] }));
      expect(bid.status).toBe(201);
    }
    // Below the H100 reserve: it loses, so the audit has a loser with its reason.
    expect((await t.http().post('/v1/bids').set(auth(tenant.apiKey)).send(bidBody({ gpus: 8, offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '1.00' }] }))).status).toBe(201);
    const rounds = t.app.get(RoundService);
    const sync = t.app.get(LeaseSyncService);
    // A few rounds in the minutes just past, so they fall in the page's default range.
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    await rounds.runRound({ periodStart: new Date(minute - 5 * 60_000) });
    firstPeriod = new Date(minute - 5 * 60_000).toISOString().replace('T', ' ').slice(0, 19);
    await until('both leases running', async () => {
      await sync.syncAll();
      const [row] = await t.dataSource.query(`SELECT count(*)::int AS n FROM leases WHERE state = 'running'`);
      return row.n === 2;
    });
    // Settlement charges whole seconds of running: a little over a second between rounds bills each one.
    for (const ago of [4, 3, 2]) {
      await new Promise((r) => setTimeout(r, 1_100));
      await rounds.runRound({ periodStart: new Date(minute - ago * 60_000) });
    }
    const finance = await t.http().post('/v1/api-keys').set(auth(t.adminKey)).send({ role: 'finance', name: 'dashboard viewer' });
    financeKey = finance.body.apiKey;

    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    profile = mkdtempSync(join(tmpdir(), 'gpumarket-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await t?.close();
  });

  it('loads offline against the running service, draws every chart, opens a round audit, logs no console errors and saves a screenshot', async () => {
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
      if (url.startsWith(baseUrl) || url.startsWith('data:')) return route.continue();
      outside.push(url);
      return route.abort();
    });

    await page.goto(`${baseUrl}/dashboard`);
    await page.fill('#api-key', financeKey);
    await page.click('button[type=submit]');
    await page.waitForSelector('body[data-loaded=true]', { timeout: 15_000 });

    for (const chart of ['#price-chart', '#utilization-chart', '#revenue-chart']) {
      expect(Number(await page.getAttribute(chart, 'data-points')), chart).toBeGreaterThan(0);
      expect(await colouredPixels(page, chart), chart).toBeGreaterThan(100);
    }
    // The price chart draws the pool index, says so, and shades the node-price band behind it.
    expect(await page.locator('#price-chart .u-legend .u-series').allTextContents()).toEqual(
      expect.arrayContaining([
        expect.stringContaining('A100-SXM-80GB · us-east index'),
        expect.stringContaining('H100-SXM-80GB · eu-west index'),
        expect.stringContaining('H100-SXM-80GB · eu-west lowest node'),
        expect.stringContaining('H100-SXM-80GB · eu-west highest node'),
      ]),
    );
    expect(await page.locator('section:has(#price-chart) h2').textContent()).toMatch(/Pool index.*node-price band/);
    expect(await page.locator('#rounds tbody tr').count()).toBeGreaterThanOrEqual(4);
    expect(await page.textContent('#reconciliation')).toContain('ledger reconciled');
    const [ledger] = await t.dataSource.query(`SELECT sum(charge)::text AS charges FROM ledger_entries`);
    expect(Number(ledger.charges)).toBeGreaterThan(0);
    expect(await page.textContent('#reconciliation')).toContain(`charges ${ledger.charges}`);
    expect(await page.textContent('#reconciliation')).toMatch(/\+ uplift \d+\.\d{6} = payouts/);

    // The first round placed both bids; its audit shows both pools and both winners.
    await page.locator('#rounds tbody tr', { hasText: firstPeriod }).click();
    await page.waitForSelector('#audit:not([hidden])');
    expect(await page.locator('#audit-pools tbody tr').count()).toBe(2);
    expect(await page.locator('#audit-winners tbody tr').count()).toBe(2);
    // Each pool's index with its band (low / median / high), each winner's unit price and uplift from the round.
    const rounds = (await t.http().get('/v1/rounds?limit=20').set(auth(financeKey))).body.rounds;
    const firstRound = rounds.find((r: { periodStart: string }) => r.periodStart.replace('T', ' ').slice(0, 19) === firstPeriod);
    const audit = (await t.http().get(`/v1/reports/rounds/${firstRound.id}/audit`).set(auth(financeKey))).body;
    const poolRows = await page.locator('#audit-pools tbody tr').allTextContents();
    for (const pool of audit.pools) {
      const band = `${pool.nodePrices.min} / ${pool.nodePrices.median} / ${pool.nodePrices.max}`;
      expect(poolRows.some((row) => row.includes(`${pool.gpuModel} · ${pool.region}${pool.price}${band}`)), `${band} in ${poolRows.join(' | ')}`).toBe(true);
    }
    const winnerRows = await page.locator('#audit-winners tbody tr').allTextContents();
    for (const winner of audit.winners) {
      expect(winner.unitPrice).not.toBeNull();
      expect(winnerRows.some((row) => row.includes(`${winner.limitPrice}${winner.unitPrice}${winner.uplift}`)), winnerRows.join(' | ')).toBe(true);
    }
    expect(await page.textContent('#audit-summary')).toMatch(/2 winner\(s\), 1 loser\(s\)/);
    expect(await page.textContent('#audit-losers tbody')).toMatch(/below_reserve|outbid/);

    mkdirSync(join(process.cwd(), 'artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
    expect(outside).toEqual([]);
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
