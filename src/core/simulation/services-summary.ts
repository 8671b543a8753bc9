import type { ServicesReport } from './services-scenario.js';

/** The CLI's side-by-side table: one row per measure, one column per policy, the definitions under it. */
export function servicesSummaryText(report: ServicesReport): string {
  const p = report.policies;
  const fmt = (v: number | null) => (v === null ? '-' : String(v));
  const rows: [string, (r: (typeof p)[number]) => string][] = [
    ['GPU-hours paid', (r) => r.metrics.gpuHoursPaid.toFixed(3)],
    [
      'GPU-hours saved vs always-on',
      (r) => `${r.gpuHoursSavedVsAlwaysOn.toFixed(3)} (${(r.savedShare * 100).toFixed(1)}%)`,
    ],
    ['cost (USD)', (r) => r.metrics.cost],
    ['cost saved vs always-on', (r) => r.costSavedVsAlwaysOn],
    ['requests', (r) => String(r.metrics.requests)],
    ['served', (r) => String(r.metrics.served)],
    ['503 (queue full)', (r) => String(r.metrics.rejected503)],
    ['504 (start timeout)', (r) => String(r.metrics.timedOut504)],
    [
      `SLO misses (> ${report.sloSeconds} s, 503, 504)`,
      (r) => `${r.metrics.sloMisses} (${(r.metrics.sloMissShare * 100).toFixed(1)}%)`,
    ],
    [
      'latency p50 / p95 / p99 (s)',
      (r) => ['p50', 'p95', 'p99'].map((k) => fmt(r.metrics.latencySeconds[k as 'p50'])).join(' / '),
    ],
    ['cold starts (from zero)', (r) => `${r.metrics.coldStarts} (${r.metrics.coldStartsFromZero})`],
    [
      'cold start mean / max (s)',
      (r) => `${fmt(r.metrics.coldStartSeconds.mean)} / ${fmt(r.metrics.coldStartSeconds.max)}`,
    ],
    [
      'market wait mean / max (s)',
      (r) => `${fmt(r.metrics.marketWaitSeconds.mean)} / ${fmt(r.metrics.marketWaitSeconds.max)}`,
    ],
    ['bids outpriced', (r) => String(r.metrics.bidsOutpriced)],
    ['flaps', (r) => String(r.metrics.flaps)],
    ['scaling decisions', (r) => String(r.metrics.scalingDecisions)],
  ];
  const header = ['measure', ...p.map((r) => r.policy)];
  const table = [header, ...rows.map(([label, cell]) => [label, ...p.map(cell)])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const d = report.demand;
  return [
    `services: ${report.trace.name}, ${d.requests} requests in ${d.windows} windows, ${d.replayHours} h replayed; maxReplicas ${report.service.maxReplicas}, targetConcurrency ${report.service.targetConcurrency}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...table.slice(1).map(line),
    '',
    ...Object.entries(report.definitions).map(([k, v]) => `  ${k}: ${v}`),
  ].join('\n');
}
