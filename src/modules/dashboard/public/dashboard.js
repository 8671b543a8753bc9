/* The finance dashboard: reads the report endpoints with the key typed in, draws them with uPlot.
   Figures arrive as exact decimal strings; they become numbers only to be plotted, and tables show
   the strings themselves. */
(function () {
  'use strict';

  const COLORS = ['#2f6fde', '#e8710a', '#1e8e3e', '#9334e6', '#d01884', '#12a4af', '#c5221f', '#7c6a00'];
  const RANGES = { '6h': [6 * 3600, '1m'], '24h': [24 * 3600, '1m'], '7d': [7 * 86400, '1h'], '30d': [30 * 86400, '1h'] };
  const $ = (id) => document.getElementById(id);
  const charts = {};
  let key = sessionStorage.getItem('gpumarket.financeKey') || '';

  function status(text, isError) {
    $('status').textContent = text;
    $('status').className = isError ? 'error' : '';
  }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(response.status === 401 || response.status === 403 ? 'This key may not read finance reports (a finance or admin key is needed).' : (body.message || 'HTTP ' + response.status));
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '—' : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  const short = (id) => (id ? id.slice(0, 8) : null);
  const seconds = (iso) => Date.parse(iso) / 1000;
  const num = (text) => (text === null || text === undefined ? null : Number(text));
  const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

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
      const pool = row.gpuModel + ' · ' + row.region;
      if (!pools.has(pool)) pools.set(pool, new Array(times.length).fill(null));
      pools.get(pool)[index.get(seconds(row.bucketStart))] = num(value(row));
    }
    const names = [...pools.keys()];
    return {
      data: [times, ...names.map((n) => pools.get(n))],
      series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: times.length < 60 } }))],
    };
  }

  /**
   * The pool index (the close of each bucket: the lowest price among the pool's nodes with a
   * contestable GPU, what the most flexible 1-GPU bid pays) as a line, and the node-price band
   * (lowest to highest node price in the bucket) as a shaded area behind it in the same colour.
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
      const edge = { stroke: color + '66', width: 1, dash: [4, 4], spanGaps: true, points: { show: false } };
      series.push(Object.assign({ label: pool + ' highest node' }, edge), Object.assign({ label: pool + ' lowest node' }, edge));
      data.push(highest.data[i + 1], lowest.data[i + 1]);
      bands.push({ series: [pools + 1 + 2 * i, pools + 2 + 2 * i], fill: color + '1f' });
    }
    draw('price', $('price-chart'), { series, bands, axes: [{}, { label: '$ / GPU-hour', size: 60 }] }, data);
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
      const audit = await api('/v1/reports/rounds/' + encodeURIComponent(id) + '/audit');
      const r = audit.round;
      $('audit-title').textContent = '#' + r.seq + ' · ' + r.periodStart;
      $('audit-summary').textContent =
        'solver ' + (r.solver || '—') + ', ' + (r.solverStatus || r.state) + '; welfare ' + (r.welfare || '—') + ' per hour, bound ' + (r.upperBound || '—') +
        ', gap ' + (r.gap || '—') + '; ' + audit.winners.length + ' winner(s), ' + audit.losers.length + ' loser(s), ' + audit.demandGpus + ' GPUs asked for.';
      const pools = $('audit-pools').tBodies[0];
      pools.textContent = '';
      for (const p of audit.pools) {
        const tr = document.createElement('tr');
        cell(tr, p.gpuModel + ' · ' + p.region);
        cell(tr, p.price);
        cell(tr, p.nodePrices ? [p.nodePrices.min, p.nodePrices.median, p.nodePrices.max].map((v) => (v === null ? '—' : v)).join(' / ') : null);
        cell(tr, p.chargeVwap);
        cell(tr, p.supplyGpus);
        cell(tr, p.soldGpus);
        cell(tr, p.demandGpus);
        cell(tr, p.marginalBid ? short(p.marginalBid.id) + (p.marginalBid.kind === 'lease' ? ' (lease)' : '') : 'reserve', 'id');
        cell(tr, p.marginalBid ? p.marginalBid.limit : null);
        pools.appendChild(tr);
      }
      const winners = $('audit-winners').tBodies[0];
      winners.textContent = '';
      for (const w of audit.winners) {
        const tr = document.createElement('tr');
        cell(tr, short(w.bidId), 'id');
        cell(tr, short(w.tenantId), 'id');
        cell(tr, w.gpuModel);
        cell(tr, w.gpus);
        cell(tr, w.limitPrice);
        cell(tr, w.unitPrice);
        cell(tr, w.uplift);
        cell(tr, w.nodes.map((n) => n.roundNodePrice).join(', '));
        cell(tr, w.nodes.length ? w.nodes[0].unitPrice : null);
        cell(tr, short(w.leaseId) + ' (' + w.state + ')', 'id');
        winners.appendChild(tr);
      }
      const losers = $('audit-losers').tBodies[0];
      losers.textContent = '';
      for (const l of audit.losers) {
        const tr = document.createElement('tr');
        cell(tr, short(l.bidId), 'id');
        cell(tr, short(l.tenantId), 'id');
        cell(tr, l.gpus);
        cell(tr, l.reason);
        const paradox = l.paradoxicallyRejected;
        cell(tr, paradox ? paradox.reason + ': ' + paradox.gpuModel + ' at ' + paradox.cheapestPrice : 'no');
        cell(tr, l.offers.map((o) => o.gpuModel + ' ≤ ' + o.maxPrice).join(', '));
        cell(tr, l.regions.length ? l.regions.join(', ') : 'any');
        losers.appendChild(tr);
      }
      $('audit').hidden = false;
    } catch (error) {
      status(error.message, true);
    }
  }

  async function load() {
    const [span, bucket] = RANGES[$('range').value];
    const to = new Date();
    const from = new Date(to.getTime() - span * 1000);
    const range = 'from=' + from.toISOString() + '&to=' + to.toISOString();
    const days = 14;
    const dayFrom = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - (days - 1) * 86400000);
    status('Loading…');
    try {
      const [prices, utilization, revenue, rounds, reconciliation] = await Promise.all([
        api('/v1/reports/clearing-prices?' + range + '&bucket=' + bucket),
        api('/v1/reports/utilization?' + range + '&bucket=' + bucket),
        api('/v1/reports/revenue?groupBy=day&from=' + dayFrom.toISOString() + '&to=' + to.toISOString()),
        api('/v1/rounds?limit=20'),
        api('/v1/reports/reconciliation?' + range),
      ]);
      drawPrices(prices);
      drawUtilization(utilization);
      drawRevenue(revenue, dayFrom, days);
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
  window.addEventListener('resize', () => {
    for (const [name, chart] of Object.entries(charts)) {
      if (chart) chart.setSize({ width: Math.max(320, $(name + '-chart').clientWidth), height: 260 });
    }
  });
  if (key) load();
})();
