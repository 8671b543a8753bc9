/* The finance dashboard: reads the report endpoints with the key typed in, draws them with uPlot.
   Figures arrive as exact decimal strings; they become numbers only to be plotted. Tables show
   the strings themselves, money rounded to cents by decimal string arithmetic (never a binary
   float), with the exact figure in the cell's title. Every total and ratio comes from the API. */
(function () {
  'use strict';

  const COLORS = ['#2f6fde', '#e8710a', '#1e8e3e', '#9334e6', '#d01884', '#12a4af', '#c5221f', '#7c6a00'];
  const RANGES = { '6h': [6 * 3600, '1m'], '24h': [24 * 3600, '1m'], '7d': [7 * 86400, '1h'], '30d': [30 * 86400, '1h'] };
  const $ = (id) => document.getElementById(id);
  const charts = {};
  /** Each CSV link's report path and file name, set with the figures it downloads. */
  const csvLinks = {};
  let key = sessionStorage.getItem('gpumarket.financeKey') || '';

  function status(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  function failure(response, body) {
    const error = new Error(response.status === 401 || response.status === 403 ? 'This key may not read finance reports (a finance or admin key is needed).' : (body.message || 'HTTP ' + response.status));
    error.status = response.status;
    return error;
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw failure(response, body);
    return body;
  }

  /**
   * A decimal string rounded half-even to `places`, by string and BigInt arithmetic: the API's
   * exact figure, only shortened for display.
   */
  function round(text, places) {
    if (text === null || text === undefined) return null;
    const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(String(text));
    if (!m) return String(text);
    const frac = (m[3] || '').padEnd(places + 1, '0');
    let units = BigInt(m[2] + frac.slice(0, places));
    const rest = frac.slice(places);
    const half = '5' + '0'.repeat(rest.length - 1);
    if (rest > half || (rest === half && units % 2n === 1n)) units += 1n;
    const digits = units.toString().padStart(places + 1, '0');
    const out = places === 0 ? digits : digits.slice(0, -places) + '.' + digits.slice(-places);
    return (m[1] && units !== 0n ? '-' : '') + out;
  }
  const cents = (text) => round(text, 2);

  /** A ratio string (0.085553) as a percentage with two places (8.56 %), by moving the decimal point. */
  function percent(ratio) {
    if (ratio === null || ratio === undefined) return null;
    const m = /^(-?)(\d+)\.?(\d*)$/.exec(String(ratio));
    if (!m) return String(ratio);
    const frac = m[3].padEnd(2, '0');
    return round(m[1] + String(BigInt(m[2] + frac.slice(0, 2))) + '.' + (frac.slice(2) || '0'), 2) + ' %';
  }

  /** A signed change: "+0.20", "-0.05", "0.00". */
  const signed = (text) => (text === null || text === undefined ? null : /^-|^0(\.0*)?$/.test(text) ? text : '+' + text);

  function cell(row, text, className, title) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '—' : String(text);
    if (className) td.className = className;
    if (title) td.title = title;
    row.appendChild(td);
    return td;
  }
  const moneyCell = (row, text) => cell(row, cents(text), 'num', text);

  const seconds = (iso) => Date.parse(iso) / 1000;
  const num = (text) => (text === null || text === undefined ? null : Number(text));
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');
  const poolName = (r) => r.gpuModel + ' · ' + r.region;
  const stepped = () => uPlot.paths.stepped({ align: 1 });

  function selectedPool() {
    const value = $('pool').value;
    if (!value) return null;
    const [gpuModel, region] = value.split('|');
    return { gpuModel, region };
  }

  function draw(name, element, options, data) {
    if (charts[name]) charts[name].destroy();
    element.textContent = '';
    element.dataset.points = '0';
    if (data[0].length === 0) {
      const empty = document.createElement('div');
      empty.className = 'empty';
      empty.textContent = 'nothing in this range';
      element.appendChild(empty);
      charts[name] = null;
      return;
    }
    // How many non-zero values the chart plots: lets a reader (and the browser test) tell a flat zero chart from a real one.
    element.dataset.points = String(data.slice(1).reduce((total, values) => total + values.filter((v) => v !== null && v !== 0).length, 0));
    const width = Math.max(320, element.clientWidth);
    charts[name] = new uPlot(Object.assign({ width, height: 260, tzDate: utc, legend: { live: true } }, options), data, element);
  }

  /** One series per pool over the union of bucket starts; gaps where a pool had no round. */
  function poolSeries(rows, value) {
    const times = [...new Set(rows.map((r) => seconds(r.bucketStart)))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const pools = new Map();
    for (const row of rows) {
      const pool = poolName(row);
      if (!pools.has(pool)) pools.set(pool, new Array(times.length).fill(null));
      pools.get(pool)[index.get(seconds(row.bucketStart))] = num(value(row));
    }
    const names = [...pools.keys()];
    return {
      times,
      data: [times, ...names.map((n) => pools.get(n))],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, paths: stepped(), points: { show: times.length < 60 } }))],
    };
  }

  /** GPU-hours sold per bucket over the pools shown, summed in whole micro-GPU-hours (the API gives six places). */
  function volume(rows, times) {
    const total = new Map();
    for (const r of rows) {
      const t = seconds(r.bucketStart);
      total.set(t, (total.get(t) || 0n) + BigInt(r.gpuHours.replace('.', '')));
    }
    return times.map((t) => (total.has(t) ? Number(total.get(t)) / 1e6 : null));
  }

  /**
   * The pool index (the close of each bucket: the lowest price among the pool's nodes with a
   * contestable GPU, what the most flexible 1-GPU bid pays) as steps, the node-price band
   * (lowest to highest node price in the bucket) shaded behind it in the same colour, and the
   * GPU-hours sold as bars on their own axis.
   */
  function drawPrices(report) {
    const index = poolSeries(report.rows, (r) => r.close);
    const lowest = poolSeries(report.rows, (r) => (r.nodePrices ? r.nodePrices.min : null));
    const highest = poolSeries(report.rows, (r) => (r.nodePrices ? r.nodePrices.max : null));
    const pools = index.series.length - 1;
    const series = [{}];
    const data = [index.data[0]];
    const bands = [];
    for (let i = 0; i < pools; i++) {
      const pool = index.series[i + 1];
      series.push(Object.assign({}, pool, { label: pool.label + ' index' }));
      data.push(index.data[i + 1]);
    }
    for (let i = 0; i < pools; i++) {
      const pool = index.series[i + 1].label;
      const color = COLORS[i % COLORS.length];
      const edge = { stroke: color + '66', width: 1, dash: [4, 4], spanGaps: true, paths: stepped(), points: { show: false } };
      series.push(Object.assign({ label: pool + ' highest node' }, edge), Object.assign({ label: pool + ' lowest node' }, edge));
      data.push(highest.data[i + 1], lowest.data[i + 1]);
      bands.push({ series: [pools + 1 + 2 * i, pools + 2 + 2 * i], fill: color + '1f' });
    }
    series.push({ label: 'GPU-hours sold', scale: 'gpuh', stroke: '#8a93a6', fill: '#8a93a640', paths: uPlot.paths.bars({ size: [0.8, 30] }), points: { show: false } });
    data.push(volume(report.rows, index.times));
    draw(
      'price',
      $('price-chart'),
      {
        series,
        bands,
        scales: { gpuh: { range: (u, min, max) => [0, Math.max(1, max) * 3] } },
        axes: [{}, { label: '$ / GPU-hour', size: 60 }, { scale: 'gpuh', side: 1, label: 'GPU-hours sold', size: 60, grid: { show: false } }],
      },
      data,
    );
  }

  function drawUtilization(report) {
    const { data, series } = poolSeries(report.rows, (r) => (r.utilization === null ? null : Number(r.utilization) * 100));
    draw('utilization', $('utilization-chart'), { series, scales: { y: { range: [0, 100] } }, axes: [{}, { label: '% sold', size: 50 }] }, data);
  }

  function drawRevenue(report, from, days) {
    const byDay = new Map(report.rows.map((r) => [r.day, r]));
    const times = [];
    const gpuHours = [];
    const charges = [];
    for (let i = 0; i < days; i++) {
      const day = new Date(from.getTime() + i * 86400000).toISOString().slice(0, 10);
      const row = byDay.get(day);
      times.push(seconds(day + 'T00:00:00Z'));
      gpuHours.push(row ? num(row.gpuHours) : 0);
      charges.push(row ? num(row.charges) : 0);
    }
    draw(
      'revenue',
      $('revenue-chart'),
      {
        // Half a day of room either side, so the first and last day's bars are not cut in half.
        scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, h: {}, usd: {} },
        series: [
          {},
          { label: 'GPU-hours', scale: 'h', stroke: COLORS[0], fill: COLORS[0] + '99', paths: uPlot.paths.bars({ size: [0.6, 40] }), points: { show: false } },
          { label: 'charges $', scale: 'usd', stroke: COLORS[1], width: 2, points: { show: true } },
        ],
        axes: [{}, { scale: 'h', label: 'GPU-hours', size: 60 }, { scale: 'usd', side: 1, label: '$', size: 60, grid: { show: false } }],
      },
      [times, gpuHours, charges],
    );
  }

  function drawPools(report) {
    const body = $('pools').tBodies[0];
    body.textContent = '';
    const chosen = $('pool').value;
    for (const p of report.rows) {
      const tr = document.createElement('tr');
      tr.dataset.pool = p.gpuModel + '|' + p.region;
      if (tr.dataset.pool === chosen) tr.className = 'selected';
      cell(tr, poolName(p));
      cell(tr, p.index, 'num', p.periodStart ? 'round of ' + p.periodStart : 'never priced');
      cell(tr, p.change24h === null ? null : signed(p.change24h) + (p.changePercent24h === null ? '' : ' (' + signed(p.changePercent24h) + ' %)'), 'num', p.indexDayAgo === null ? 'not priced 24 h before' : 'from ' + p.indexDayAgo);
      cell(tr, [p.nodePrices.min, p.nodePrices.median, p.nodePrices.max].map((v) => (v === null ? '—' : v)).join(' / '), 'num');
      cell(tr, p.priceToWin === null ? p.priceToWinReason : p.priceToWin, 'num');
      cell(tr, cents(p.gpuHours), 'num', p.gpuHours);
      cell(tr, cents(p.preemptibleGpuHours), 'num', p.preemptibleGpuHours);
      cell(tr, p.preemptions, 'num');
      cell(tr, p.preemptionsPerPreemptibleGpuHour, 'num');
      body.appendChild(tr);
    }
    // The picker lists every pool the summary knows, keeping the one chosen.
    const picker = $('pool');
    const known = new Set([...picker.options].map((o) => o.value));
    for (const p of report.rows) {
      const value = p.gpuModel + '|' + p.region;
      if (known.has(value)) continue;
      const option = document.createElement('option');
      option.value = value;
      option.textContent = poolName(p);
      picker.appendChild(option);
    }
  }

  function drawMoney(report, pool) {
    for (const dd of document.querySelectorAll('#money dd')) {
      const figure = dd.dataset.figure;
      const exact = figure === 'takeRate' ? report.takeRate : report.totals[figure];
      dd.textContent = (figure === 'takeRate' ? percent(exact) : cents(exact)) || '—';
      dd.title = exact === null ? 'nothing charged' : exact;
    }
    $('money-scope').textContent = pool ? ' on ' + pool.gpuModel + ' · ' + pool.region : ', all pools';
  }

  function drawParties(table, report, name, columns) {
    const body = $(table).tBodies[0];
    body.textContent = '';
    for (const r of report.rows) {
      const tr = document.createElement('tr');
      cell(tr, r[name]);
      cell(tr, cents(r.gpuHours), 'num', r.gpuHours);
      for (const c of columns) moneyCell(tr, r[c]);
      body.appendChild(tr);
    }
    if (report.rows.length === 0) {
      const tr = document.createElement('tr');
      cell(tr, 'nothing charged in this range').colSpan = 2 + columns.length;
      body.appendChild(tr);
    }
  }

  function drawRounds(page) {
    const body = $('rounds').tBodies[0];
    body.textContent = '';
    for (const round of page.rounds) {
      const row = document.createElement('tr');
      row.dataset.roundId = round.id;
      cell(row, round.seq);
      cell(row, round.periodStart.replace('T', ' ').replace('.000Z', ''));
      cell(row, round.solver);
      cell(row, round.solverStatus || round.state);
      cell(row, round.welfare);
      cell(row, round.gap);
      cell(row, round.openBids);
      cell(row, round.placements);
      cell(row, round.preemptions);
      row.addEventListener('click', () => showAudit(round.id, row));
      body.appendChild(row);
    }
  }

  function drawReconciliation(report) {
    const badge = $('reconciliation');
    const t = report.totals;
    badge.textContent = t.balanced
      ? 'ledger reconciled: charges ' + t.charges + ' + uplift ' + t.uplift + ' = payouts ' + t.payouts + ' + fees ' + t.fees
      : 'ledger off by ' + t.difference + ' in ' + report.breaks.length + ' round(s)';
    badge.className = 'badge ' + (t.balanced ? 'good' : 'bad');
  }

  async function showAudit(id, row) {
    document.querySelectorAll('#rounds tr.selected').forEach((r) => r.classList.remove('selected'));
    row.classList.add('selected');
    try {
      const path = '/v1/reports/rounds/' + encodeURIComponent(id) + '/audit';
      const audit = await api(path);
      csv('audit-csv', path + '?format=csv', 'round-' + audit.round.seq + '-audit.csv');
      const names = audit.names;
      const tenant = (tenantId) => names.tenants[tenantId] || tenantId;
      const r = audit.round;
      $('audit-title').textContent = '#' + r.seq + ' · ' + r.periodStart;
      $('audit-summary').textContent =
        'solver ' + (r.solver || '—') + ', ' + (r.solverStatus || r.state) + '; welfare ' + (r.welfare || '—') + ' per hour, bound ' + (r.upperBound || '—') +
        ', gap ' + (r.gap || '—') + '; ' + audit.winners.length + ' winner(s), ' + audit.losers.length + ' loser(s), ' + audit.demandGpus + ' GPUs asked for.';
      const pools = $('audit-pools').tBodies[0];
      pools.textContent = '';
      for (const p of audit.pools) {
        const tr = document.createElement('tr');
        cell(tr, poolName(p));
        cell(tr, p.price, 'num');
        cell(tr, p.nodePrices ? [p.nodePrices.min, p.nodePrices.median, p.nodePrices.max].map((v) => (v === null ? '—' : v)).join(' / ') : null, 'num');
        cell(tr, p.chargeVwap, 'num');
        cell(tr, p.supplyGpus, 'num');
        cell(tr, p.soldGpus, 'num');
        cell(tr, p.demandGpus, 'num');
        const m = p.marginalBid;
        cell(tr, m ? (m.tenantId ? tenant(m.tenantId) : '?') + "'s " + (m.kind === 'lease' ? 'lease' : 'bid') : 'reserve', null, m ? m.id : null);
        cell(tr, m ? m.limit : null, 'num');
        pools.appendChild(tr);
      }
      const winners = $('audit-winners').tBodies[0];
      winners.textContent = '';
      for (const w of audit.winners) {
        const tr = document.createElement('tr');
        cell(tr, tenant(w.tenantId));
        cell(tr, w.gpuModel);
        cell(tr, w.gpus, 'num');
        cell(tr, w.limitPrice, 'num');
        cell(tr, w.unitPrice, 'num');
        cell(tr, w.uplift, 'num');
        cell(
          tr,
          w.nodes.map((n) => (names.nodes[n.nodeId] || n.nodeId) + ' of ' + (names.providers[n.providerId] || n.providerId) + ': ' + n.gpus + ' at ' + (n.roundNodePrice === null ? '—' : n.roundNodePrice)).join(', '),
        );
        cell(tr, w.state);
        cell(tr, w.bidId, 'id', 'lease ' + w.leaseId);
        winners.appendChild(tr);
      }
      const losers = $('audit-losers').tBodies[0];
      losers.textContent = '';
      for (const l of audit.losers) {
        const tr = document.createElement('tr');
        cell(tr, tenant(l.tenantId));
        cell(tr, l.gpus, 'num');
        cell(tr, l.reason);
        const paradox = l.paradoxicallyRejected;
        cell(tr, paradox ? paradox.reason + ': ' + paradox.gpuModel + ' at ' + paradox.cheapestPrice : 'no');
        cell(tr, l.offers.map((o) => o.gpuModel + ' ≤ ' + o.maxPrice).join(', '));
        cell(tr, l.regions.length ? l.regions.join(', ') : 'any');
        cell(tr, l.bidId, 'id');
        losers.appendChild(tr);
      }
      $('audit').hidden = false;
    } catch (error) {
      status(error.message, true);
    }
  }

  /** Points a CSV link at a report; the key travels in a header, so the link fetches and saves it. */
  function csv(id, path, file) {
    csvLinks[id] = { path, file };
    $(id).dataset.path = path;
  }

  async function download(event) {
    event.preventDefault();
    const link = csvLinks[event.currentTarget.id];
    if (!link) return;
    try {
      const response = await fetch(link.path, { headers: { Authorization: 'Bearer ' + key, Accept: 'text/csv' } });
      if (!response.ok) throw failure(response, await response.json().catch(() => ({})));
      const url = URL.createObjectURL(await response.blob());
      const save = document.createElement('a');
      save.href = url;
      save.download = link.file;
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      status(error.message, true);
    }
  }

  async function load() {
    const [span, bucket] = RANGES[$('range').value];
    const to = new Date();
    const from = new Date(to.getTime() - span * 1000);
    const range = 'from=' + from.toISOString() + '&to=' + to.toISOString();
    const pool = selectedPool();
    const filter = pool ? '&gpuModel=' + encodeURIComponent(pool.gpuModel) + '&region=' + encodeURIComponent(pool.region) : '';
    const days = 14;
    const dayFrom = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - (days - 1) * 86400000);
    const paths = {
      pools: '/v1/reports/pools?' + range,
      prices: '/v1/reports/clearing-prices?' + range + '&bucket=' + bucket + filter,
      utilization: '/v1/reports/utilization?' + range + '&bucket=' + bucket + filter,
      revenue: '/v1/reports/revenue?groupBy=day&from=' + dayFrom.toISOString() + '&to=' + to.toISOString() + filter,
      money: '/v1/reports/revenue?groupBy=day&' + range + filter,
      providers: '/v1/reports/revenue?groupBy=provider&' + range + filter,
      tenants: '/v1/reports/revenue?groupBy=tenant&' + range + filter,
      reconciliation: '/v1/reports/reconciliation?' + range,
    };
    status('Loading…');
    document.body.dataset.loaded = 'false';
    try {
      const [pools, prices, utilization, revenue, money, providers, tenants, rounds, reconciliation] = await Promise.all([
        api(paths.pools),
        api(paths.prices),
        api(paths.utilization),
        api(paths.revenue),
        api(paths.money),
        api(paths.providers),
        api(paths.tenants),
        api('/v1/rounds?limit=20'),
        api(paths.reconciliation),
      ]);
      for (const name of Object.keys(paths)) csv(name + '-csv', paths[name] + '&format=csv', name + '-' + to.toISOString().slice(0, 16).replace(':', '') + '.csv');
      drawPools(pools);
      drawPrices(prices);
      drawUtilization(utilization);
      drawRevenue(revenue, dayFrom, days);
      drawMoney(money, pool);
      drawParties('providers', providers, 'providerName', ['charges', 'uplift', 'fees', 'payouts']);
      drawParties('tenants', tenants, 'tenantName', ['charges', 'uplift', 'fees', 'netFees']);
      drawRounds(rounds);
      drawReconciliation(reconciliation);
      status('Loaded ' + prices.rows.length + ' price buckets and ' + rounds.rounds.length + ' rounds at ' + to.toISOString().replace('T', ' ').slice(0, 19) + ' UTC.');
      document.body.dataset.loaded = 'true';
    } catch (error) {
      status(error.message, true);
    }
  }

  $('api-key').value = key;
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    key = $('api-key').value.trim();
    sessionStorage.setItem('gpumarket.financeKey', key);
    load();
  });
  $('range').addEventListener('change', () => key && load());
  $('pool').addEventListener('change', () => key && load());
  for (const link of document.querySelectorAll('a.csv')) link.addEventListener('click', download);
  window.addEventListener('resize', () => {
    for (const [name, chart] of Object.entries(charts)) {
      if (chart) chart.setSize({ width: Math.max(320, $(name + '-chart').clientWidth), height: 260 });
    }
  });
  if (key) load();
})();
