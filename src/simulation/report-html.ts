import type { SimulationReport } from '../core/simulation/report-model.js';

/**
 * report.html: one self-contained page (inline SVG, no scripts, no CDN) so it opens from a CI
 * artefact or an e-mail attachment the same as from disk.
 */
const COLOURS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const W = 860;
const H = 260;
const PAD = { left: 56, right: 150, top: 24, bottom: 32 };

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(3));

/** Hours from the epoch as a UTC date and time ("01-05 14:00"). */
const utc = (epochIso: string, hours: number) =>
  new Date(Date.parse(epochIso) + hours * 3_600_000).toISOString().slice(5, 16).replace('T', ' ');

export function lineChart(
  title: string,
  xs: readonly number[],
  series: Readonly<Record<string, readonly (number | null)[]>>,
  yLabel: string,
  epochIso?: string,
): string {
  const values = Object.values(series).flatMap((s) => s.filter((v): v is number => v !== null));
  const yMax = Math.max(1e-9, ...values) * 1.05;
  const xMin = xs[0] ?? 0;
  const xMax = Math.max(xMin + 1e-9, xs[xs.length - 1] ?? 1);
  const px = (x: number) => PAD.left + ((x - xMin) / (xMax - xMin)) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const lines = Object.entries(series).map(([name, ys], k) => {
    let d = '';
    let pen = false;
    ys.forEach((y, i) => {
      if (y === null || i >= xs.length) return void (pen = false);
      d += `${pen ? 'L' : 'M'}${px(xs[i]).toFixed(1)},${py(y).toFixed(1)}`;
      pen = true;
    });
    const colour = COLOURS[k % COLOURS.length];
    return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="1.5"/><text x="${W - PAD.right + 8}" y="${PAD.top + 14 * (k + 1)}" fill="${colour}" font-size="11">${esc(name)}</text>`;
  });
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const y = yMax * f;
    const x = xMin + (xMax - xMin) * f;
    return `<text x="${PAD.left - 4}" y="${py(y) + 4}" font-size="10" text-anchor="end">${fmt(y)}</text><line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/><text x="${px(x)}" y="${H - PAD.bottom + 14}" font-size="10" text-anchor="middle">${epochIso ? utc(epochIso, x) : fmt(x)}</text>`;
  });
  return `<h2>${esc(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${ticks.join('')}${lines.join('')}<text x="${PAD.left}" y="${H - 4}" font-size="10">${epochIso ? 'time (UTC)' : 'hours'}</text><text x="4" y="12" font-size="10">${esc(yLabel)}</text></svg>`;
}

export function barChart(
  title: string,
  groups: Readonly<Record<string, Readonly<Record<string, number>>>>,
  unit: string,
): string {
  const tenants = [...new Set(Object.values(groups).flatMap((g) => Object.keys(g)))];
  const names = Object.keys(groups);
  const max = Math.max(1e-9, ...Object.values(groups).flatMap((g) => Object.values(g)));
  const rowH = 16;
  const height = PAD.top + tenants.length * (names.length * rowH + 10) + 10;
  const width = W - PAD.right;
  let y = PAD.top;
  const bars: string[] = [];
  for (const tenant of tenants) {
    bars.push(`<text x="4" y="${y + rowH}" font-size="11">${esc(tenant)}</text>`);
    names.forEach((name, k) => {
      const v = groups[name][tenant] ?? 0;
      const w = (v / max) * (width - 260);
      bars.push(
        `<rect x="130" y="${y}" width="${w.toFixed(1)}" height="${rowH - 3}" fill="${COLOURS[k % COLOURS.length]}"/><text x="${134 + w}" y="${y + rowH - 5}" font-size="10">${esc(name)} ${fmt(v)} ${esc(unit)}</text>`,
      );
      y += rowH;
    });
    y += 10;
  }
  return `<h2>${esc(title)}</h2><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${esc(title)}">${bars.join('')}</svg>`;
}

function table(report: SimulationReport): string {
  const rows = summaryRows(report);
  return `<table><tr>${rows[0].map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
/** A share small enough to matter in thousandths of a percent (uplift should be rare). */
const pct3 = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(3)}%`);
const mins = (s: number) => `${(s / 60).toFixed(1)} min`;
/** Money to 2 decimals, from an exact decimal string (rounded half-up on the text, no binary float). */
const money2 = (x: string | number) => {
  const [whole, frac = ''] = String(x).split('.');
  const cents = BigInt(whole.replace('-', '') + (frac + '00').slice(0, 2)) + ((frac + '000')[2] >= '5' ? 1n : 0n);
  const sign = whole.startsWith('-') && cents > 0n ? '-' : '';
  return `${sign}${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;
};
const fmtLimit = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(4));

export function summaryRows(report: SimulationReport): string[][] {
  const header = ['metric', ...report.baselines.map((b) => b.baseline)];
  const row = (name: string, f: (b: SimulationReport['baselines'][number]) => string) => [
    name,
    ...report.baselines.map(f),
  ];
  return [
    header,
    row('GPUs', (b) => String(b.gpus)),
    row('GPU utilisation', (b) => pct(b.utilisation)),
    row('GPU-hours served', (b) => b.gpuHoursServed.toFixed(1)),
    row('jobs completed', (b) => `${b.jobsCompleted}/${b.jobs}`),
    row('jobs expired', (b) => String(b.jobsExpired)),
    row('  of them preemptible+window', (b) => String(b.expiredByClass.preemptible_window)),
    row('  of them fixed+window', (b) => String(b.expiredByClass.fixed_window)),
    row('  of them run, then preempted', (b) => String(b.expiredAfterPreemption)),
    row('mean wait', (b) => mins(b.meanWaitSeconds)),
    row('p95 wait', (b) => mins(b.p95WaitSeconds)),
    row('p95 wait (no window)', (b) => mins(b.p95WaitNowSeconds)),
    row('p99 wait (no window)', (b) => mins(b.p99WaitNowSeconds)),
    row('longest wait (no window)', (b) => mins(b.maxWaitNowSeconds)),
    row('deadline hits / windowed jobs', (b) => `${b.deadlineHits}/${b.windowedJobsDue} (${pct(b.deadlineHitRate)})`),
    row('preemptions / preemptible job-hour', (b) => b.preemptionsPerPreemptibleJobHour.toFixed(4)),
    row('value delivered $', (b) => (b.value ? money2(b.value.delivered) : 'n/a')),
    row('tenant surplus $ (value - charges)', (b) => (b.value ? money2(b.value.surplus) : 'n/a')),
    row('$/GPU-h preemptible+window', (b) => b.pricePerGpuHour.preemptible_window ?? 'n/a'),
    row('$/GPU-h preemptible+now', (b) => b.pricePerGpuHour.preemptible_now ?? 'n/a'),
    row('$/GPU-h fixed+window', (b) => b.pricePerGpuHour.fixed_window ?? 'n/a'),
    row('$/GPU-h fixed+now', (b) => b.pricePerGpuHour.fixed_now ?? 'n/a'),
    row('limit $/GPU-h preempt.+window', (b) => fmtLimit(b.byClass?.preemptible_window.meanLimit)),
    row('limit $/GPU-h fixed+now', (b) => fmtLimit(b.byClass?.fixed_now.meanLimit)),
    row('GPU-h on nodes at reserve, preempt.+window', (b) => pct(b.byClass?.preemptible_window.reserveShare ?? null)),
    row('GPU-h on nodes at reserve, fixed+now', (b) => pct(b.byClass?.fixed_now.reserveShare ?? null)),
    row('tenant charges $', (b) => b.charges),
    row('uplift $ (paid by the market)', (b) => b.uplift),
    row('provider payouts $', (b) => b.payouts),
    row('platform fees $', (b) => b.fees),
    row('charges + uplift = payouts + fees', (b) =>
      b.reconciliation.balanced
        ? `${b.reconciliation.chargesPlusUplift} = ${b.reconciliation.payoutsPlusFees}`
        : `${b.reconciliation.chargesPlusUplift} != ${b.reconciliation.payoutsPlusFees}`,
    ),
    row('uplift / charges', (b) => pct3(b.upliftShareOfCharges)),
    row('paradoxical rejections / losers', (b) =>
      b.paradoxicalRejections
        ? `${b.paradoxicalRejections.count}/${b.paradoxicalRejections.losers} (${pct3(b.paradoxicalRejections.share)})`
        : 'n/a',
    ),
    row('fleet $/h at reserve', (b) => money2(b.fleetCostPerHour)),
    row('GPUs needed at same service', (b) =>
      b.capacityNeededGpus === null ? 'not searched' : String(b.capacityNeededGpus),
    ),
    row('  that fleet in $/h at reserve', (b) =>
      b.capacityNeededCostPerHour === null ? 'n/a' : b.capacityNeededCostPerHour.toFixed(2),
    ),
  ];
}

export function summaryText(report: SimulationReport): string {
  const rows = summaryRows(report);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const { pooling, flexibility } = report.claims;
  lines.push(
    '',
    `pooling: dedicated ${pooling.dedicatedGpus} GPUs, market ${pooling.marketGpus ?? 'not searched'} GPUs at the same service level` +
      (pooling.saving === null
        ? ''
        : ` (${Math.abs(pooling.saving * 100).toFixed(1)}% ${pooling.saving >= 0 ? 'fewer' : 'more'}; goal >= 20% fewer: ${pooling.atLeast20Percent ? 'met' : 'NOT met'})`),
    `flexibility: fixed+now pays ${flexibility.fixedNow ?? 'n/a'} vs preemptible+window ${flexibility.preemptibleWindow ?? 'n/a'} per GPU-hour` +
      (flexibility.ratio === null
        ? ''
        : ` (${flexibility.ratio}x; goal >= 5x: ${flexibility.atLeast5x ? 'met' : 'NOT met'})`),
  );
  lines.push(
    '',
    'verdict:',
    ...report.verdict.map(
      (v) =>
        `  ${v.met === null ? 'n/a    ' : v.met ? 'met    ' : 'NOT met'}  ${v.goal}: ${v.measured} (target ${v.target})`,
    ),
  );
  const { roundsAtTimeLimit, probeRoundsAtTimeLimit, options } = report.clearing;
  if (roundsAtTimeLimit.count + probeRoundsAtTimeLimit > 0)
    lines.push(
      `reproducibility: ${roundsAtTimeLimit.count} of ${report.scenario.rounds} market rounds (and ${probeRoundsAtTimeLimit} in capacity probes) stopped at the ${options.timeLimitMs} ms clearing limit; ` +
        'their allocations depend on machine speed, so a rerun can differ (report.json lists them; a larger --time-limit-ms makes fewer)',
    );
  else lines.push('reproducibility: no clearing round reached its time limit; the same seed gives the same report');
  const market = report.baselines.find((b) => b.paradoxicalRejections !== null);
  if (market) {
    const p = market.paradoxicalRejections!;
    const reasons = Object.entries(p.byReason)
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    lines.push(
      `prices (${market.baseline}): each lease pays min(limit, GPU-weighted mean of its nodes' prices); where the limit binds, the market pays the rest (uplift) so providers get the node prices. ` +
        `Uplift ${market.uplift} $ = ${pct3(market.upliftShareOfCharges)} of charges ${market.charges} $; ` +
        `books ${market.reconciliation.balanced ? 'balance' : 'DO NOT balance'}: charges + uplift ${market.reconciliation.chargesPlusUplift} ${market.reconciliation.balanced ? '=' : '!='} payouts + fees ${market.reconciliation.payoutsPlusFees}. ` +
        `Paradoxically rejected (lost though GPUs were priced below their limit): ${p.count} of ${p.losers} losing bid-rounds (${pct3(p.share)})${reasons ? `: ${reasons}` : ''}.`,
    );
  }
  if (report.clearing.unitPriceMismatches > 0)
    lines.push(
      `coherence: ${report.clearing.unitPriceMismatches} lease-rounds had a unit price from the core that differs from the settlement rule's (see report.json clearing.unitPriceMismatches)`,
    );
  return lines.join('\n');
}

/** The page opens with the verdict: each goal, its target, what was measured, met or not. */
function verdictSection(report: SimulationReport): string {
  const rows = report.verdict.map(
    (v) =>
      `<tr><td>${esc(v.goal)}</td><td>${esc(v.target)}</td><td>${esc(v.measured)}</td><td>${v.met === null ? 'n/a' : v.met ? 'met' : '<b>not met</b>'}</td></tr>`,
  );
  const t = report.serviceTarget;
  return `<h2>Verdict</h2><table><tr><th>goal</th><th>target</th><th>measured</th><th>met</th></tr>${rows.join('')}</table>
<p>Service target (what dedicated reservations deliver): p95 wait without a window ${mins(t.p95WaitNowSeconds)}, p99 ${mins(t.p99WaitNowSeconds)}, jobs completed ${pct(t.completionRate)} (less 1 point), deadline hit rate ${pct(t.deadlineHitRate)} (less 1 point), GPU-hours served in the horizon ${t.gpuHoursServed.toFixed(1)} (99% of it). Limits: ${report.limits === 'identical' ? 'one distribution for every class' : 'drawn by flexibility class'}.</p>`;
}

/** Every shared baseline on the same fleets; money to 2 decimals. */
function equalFleetSection(report: SimulationReport): string {
  const head =
    '<tr><th>fleet</th><th>baseline</th><th>meets target</th><th>value delivered $</th><th>surplus $</th><th>p95 / p99 wait (no window)</th><th>deadline hits</th><th>preemptions / preemptible job-h</th><th>$/GPU-h fixed+now / preempt.+window</th><th>charges $</th><th>uplift $</th><th>payouts $</th><th>fees $</th></tr>';
  const rows = report.equalFleet.flatMap((f) =>
    f.baselines.map(
      (b) =>
        `<tr><td>${f.gpus} GPUs, ${f.costPerHour.toFixed(2)} $/h${f.sizedFor.length ? ` (sized for ${esc(f.sizedFor.join(', '))})` : ''}</td><td>${esc(b.baseline)}</td><td>${b.meetsTarget ? 'yes' : 'no'}</td><td>${b.valueDelivered === null ? 'n/a' : money2(b.valueDelivered)}</td><td>${b.surplus === null ? 'n/a' : money2(b.surplus)}</td><td>${mins(b.p95WaitNowSeconds)} / ${mins(b.p99WaitNowSeconds)}</td><td>${b.deadlineHits}/${b.windowedJobsDue}</td><td>${b.preemptionsPerPreemptibleJobHour.toFixed(4)}</td><td>${b.pricePerGpuHour.fixed_now ? money2(b.pricePerGpuHour.fixed_now) : 'n/a'} / ${b.pricePerGpuHour.preemptible_window ? money2(b.pricePerGpuHour.preemptible_window) : 'n/a'}</td><td>${money2(b.charges)}</td><td>${money2(b.uplift)}</td><td>${money2(b.payouts)}</td><td>${money2(b.fees)}</td></tr>`,
    ),
  );
  const sized = Object.entries(report.sizedSeries);
  const charts = sized.length
    ? `${lineChart("GPU utilisation on each baseline's sized fleet", sized[0][1].hours, Object.fromEntries(sized.map(([n, v]) => [`${n} (${v.gpus} GPUs, ${v.costPerHour.toFixed(2)} $/h)`, v.utilisation])), 'share busy', report.scenario.epoch)}
${lineChart("Queue length on each baseline's sized fleet (bids waiting)", sized[0][1].hours, Object.fromEntries(sized.map(([n, v]) => [`${n} (${v.gpus} GPUs)`, v.queue])), 'bids', report.scenario.epoch)}`
    : '<p>No sized fleet: the capacity search was off or found none.</p>';
  return `<h2>Every shared baseline on the same fleets</h2><table>${head}${rows.join('')}</table>${charts}`;
}

/** Every price figure's definition, next to the figures (report.json carries the same under prices.definitions). */
function priceSection(report: SimulationReport): string {
  const pools = report.prices.pools;
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  const head =
    '<tr><th>pool</th><th>mean index $/GPU-h</th><th>min</th><th>max</th><th>VWAP paid $/GPU-h</th><th>GPU-hours sold</th></tr>';
  const rows = pools.map(
    (p) =>
      `<tr><td>${esc(p.pool)}</td><td>${f(p.meanIndex)}</td><td>${f(p.minIndex)}</td><td>${f(p.maxIndex)}</td><td>${f(p.vwap)}</td><td>${p.soldGpuHours.toFixed(1)}</td></tr>`,
  );
  const defs = Object.entries(report.prices.definitions).map(([k, v]) => `<li><b>${esc(k)}</b>: ${esc(v)}</li>`);
  return `<h2>Market prices per pool, and what the price figures mean</h2><table>${head}${rows.join('')}</table><ul>${defs.join('')}</ul>`;
}

/** When each flexibility class ran in the market and what it paid: the troughs and peaks behind the price ratio. */
function hourTable(report: SimulationReport): string {
  const { hourUtc, gpuHours, pricePerGpuHour } = report.marketByHour;
  const classes = Object.keys(gpuHours);
  const head = `<tr><th>UTC hour</th>${classes.map((c) => `<th>${esc(c)} GPU-h</th><th>$/GPU-h</th>`).join('')}</tr>`;
  const rows = hourUtc.map(
    (h, i) =>
      `<tr><td>${h}</td>${classes.map((c) => `<td>${gpuHours[c][i].toFixed(0)}</td><td>${pricePerGpuHour[c][i]?.toFixed(2) ?? ''}</td>`).join('')}</tr>`,
  );
  return `<h2>Market: GPU-hours run and mean price paid by UTC hour of day</h2><table>${head}${rows.join('')}</table>`;
}

export function renderReportHtml(report: SimulationReport): string {
  const spend = Object.fromEntries(
    report.baselines.map((b) => [
      b.baseline,
      Object.fromEntries(Object.entries(b.spendByTenant).map(([t, v]) => [t, Number(v)])),
    ]),
  );
  const s = report.scenario;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>gpumarket simulation: ${esc(s.name)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}td:first-child,th:first-child{text-align:left}li{font-size:13px}</style></head><body>
<h1>Simulation: ${esc(s.name)}</h1><p>${esc(s.description)}</p>
<p>seed ${s.seed}, ${s.hours} h, ${s.rounds} rounds of ${s.periodSeconds} s, fee ${esc(s.feePercent)}%, ${report.fleet.gpus} GPUs in the shared fleet, ${report.demand.jobs} jobs (${report.demand.gpuHours} GPU-hours).</p>
${verdictSection(report)}
${equalFleetSection(report)}
<h2>On the scenario's fleet (dedicated: its own)</h2>
${table(report)}
<h2>Assumptions</h2><ul>${report.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${lineChart('Clearing price per pool: the pool index (market, $/GPU-hour)', report.series.hours, report.series.prices, '$/GPU-h', s.epoch)}
${lineChart('VWAP of unit prices paid per pool (market, $/GPU-hour)', report.series.hours, report.series.vwap, '$/GPU-h', s.epoch)}
${priceSection(report)}
${lineChart('GPU utilisation', report.series.hours, report.series.utilisation, 'share busy', s.epoch)}
${lineChart('Queue length (bids waiting)', report.series.hours, report.series.queue, 'bids', s.epoch)}
${barChart('Spend per tenant', spend, '$')}
${hourTable(report)}
</body></html>
`;
}
