/**
 * Human output of the tenant commands: plain aligned columns that read in a terminal and survive
 * a pipe (no colour, no box drawing). `--json` bypasses all of this and prints the API's JSON.
 * The shapes below are the fields the tables read, not the whole API types.
 */

export interface Column<T> {
  readonly title: string;
  readonly value: (row: T) => string;
  /** Numbers align on the right. */
  readonly right?: boolean;
}

/** Columns separated by two spaces, a header line, no trailing spaces. */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((line) => line[i]!.length)));
  const format = (line: readonly string[]) =>
    line
      .map((cell, i) => (columns[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(columns.map((c) => c.title)), ...cells.map(format)].join('\n') + '\n';
}

/** `key: value` lines with the keys aligned. */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${value}`).join('\n') + '\n';
}

/** 14400 -> 4h, 5400 -> 1h30m, 90 -> 1m30s. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
  }
  return parts.join('');
}

/** An API instant to the second, in UTC; `-` for none. */
export function formatInstant(value: string | null | undefined): string {
  if (!value) return '-';
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const dash = (value: string | number | null | undefined) =>
  value === null || value === undefined || value === '' ? '-' : String(value);
const yesNo = (value: boolean) => (value ? 'yes' : 'no');

export interface BidView {
  id: string;
  status: string;
  gpus: number;
  offers: Array<{ gpuModel: string; maxPrice: string }>;
  contiguity: string;
  preemptible: boolean;
  runtimeSeconds: number;
  remainingSeconds: number;
  window: { notBefore: string; deadline: string } | null;
  regions: string[];
  compliance: string[];
  minGpuMemoryGb: number;
  workload: { image?: string; command?: string[]; env?: Record<string, string> };
  lastLossReason: string | null;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  leases?: Array<{
    id: string;
    state: string;
    gpuModel: string;
    gpus: number;
    allocatedAt: string;
    startedAt: string | null;
    endedAt: string | null;
    endReason: string | null;
  }>;
}

const offersText = (bid: BidView) => bid.offers.map((o) => `${o.gpuModel}<=${o.maxPrice}`).join(' ');

export function bidsTable(bids: readonly BidView[]): string {
  if (bids.length === 0) return 'no bids\n';
  return renderTable<BidView>(
    [
      { title: 'ID', value: (b) => b.id },
      { title: 'STATUS', value: (b) => b.status },
      { title: 'GPUS', value: (b) => String(b.gpus), right: true },
      { title: 'OFFERS ($/GPU-h)', value: offersText },
      { title: 'CONTIGUITY', value: (b) => b.contiguity },
      { title: 'PREEMPTIBLE', value: (b) => yesNo(b.preemptible) },
      { title: 'RUNTIME', value: (b) => formatDuration(b.runtimeSeconds), right: true },
      { title: 'LEFT', value: (b) => formatDuration(b.remainingSeconds), right: true },
      { title: 'DEADLINE', value: (b) => formatInstant(b.window?.deadline) },
      { title: 'LAST LOSS', value: (b) => dash(b.lastLossReason) },
      { title: 'CREATED', value: (b) => formatInstant(b.createdAt) },
    ],
    bids,
  );
}

export function bidDetail(bid: BidView): string {
  const workload = bid.workload ?? {};
  let text = renderFields([
    ['bid', bid.id],
    ['status', bid.status],
    ['gpus', String(bid.gpus)],
    ['offers', bid.offers.map((o) => `${o.gpuModel} at most ${o.maxPrice}/GPU-hour`).join(', ')],
    ['contiguity', bid.contiguity],
    ['preemptible', yesNo(bid.preemptible)],
    ['runtime', `${formatDuration(bid.runtimeSeconds)} (${formatDuration(bid.remainingSeconds)} left)`],
    ['window', bid.window ? `${formatInstant(bid.window.notBefore)} to ${formatInstant(bid.window.deadline)}` : '-'],
    ['regions', bid.regions.length ? bid.regions.join(', ') : 'any'],
    ['compliance', bid.compliance.length ? bid.compliance.join(', ') : '-'],
    ['min GPU memory', bid.minGpuMemoryGb ? `${bid.minGpuMemoryGb} GB` : '-'],
    ['image', dash(workload.image)],
    ['command', workload.command ? workload.command.join(' ') : '-'],
    ['env', workload.env && Object.keys(workload.env).length ? Object.keys(workload.env).join(', ') : '-'],
    ['last loss', dash(bid.lastLossReason)],
    ['idempotency key', dash(bid.idempotencyKey)],
    ['created', formatInstant(bid.createdAt)],
    ['updated', formatInstant(bid.updatedAt)],
  ]);
  if (bid.leases?.length) {
    text += '\nleases:\n';
    text += renderTable(
      [
        { title: 'ID', value: (l: NonNullable<BidView['leases']>[number]) => l.id },
        { title: 'STATE', value: (l) => l.state },
        { title: 'MODEL', value: (l) => l.gpuModel },
        { title: 'GPUS', value: (l) => String(l.gpus), right: true },
        { title: 'ALLOCATED', value: (l) => formatInstant(l.allocatedAt) },
        { title: 'STARTED', value: (l) => formatInstant(l.startedAt) },
        { title: 'ENDED', value: (l) => formatInstant(l.endedAt) },
        { title: 'END REASON', value: (l) => dash(l.endReason) },
      ],
      bid.leases,
    );
  }
  return text;
}

export interface QuoteOptionView {
  contiguity: string;
  preemptible: boolean;
  timing: string;
  requested: boolean;
  priceToWin: string | null;
  unitPrice: string | null;
  cost: string | null;
  priceIsFloor: boolean;
  wouldWin: boolean;
  reason: string | null;
  basis: string;
}

export interface QuoteView {
  gpus: number;
  runtimeSeconds: number;
  wouldWinNow: boolean;
  prices: { basis: string; roundId: string | null; periodStart: string | null; preemptionPenalty: string };
  offers: Array<{ gpuModel: string; maxPrice: string; wouldWinNow: boolean; options: QuoteOptionView[] }>;
}

/** One table per offer, every option a line; `*` marks the option the flags asked for. */
export function quoteTables(quote: QuoteView): string {
  const basis =
    quote.prices.basis === 'reserves'
      ? 'no round has priced nodes yet: prices are node reserves'
      : `node prices of round ${quote.prices.roundId} (${formatInstant(quote.prices.periodStart)})`;
  const parts = [
    `${quote.gpus} GPU(s) for ${formatDuration(quote.runtimeSeconds)}; ${basis}; preemption penalty ${quote.prices.preemptionPenalty}/GPU-hour`,
    `the requested option wins now: ${yesNo(quote.wouldWinNow)}`,
  ];
  for (const offer of quote.offers) {
    parts.push(`\n${offer.gpuModel} at most ${offer.maxPrice}/GPU-hour (wins now: ${yesNo(offer.wouldWinNow)})`);
    parts.push(
      renderTable<QuoteOptionView>(
        [
          { title: '', value: (o) => (o.requested ? '*' : '') },
          { title: 'CONTIGUITY', value: (o) => o.contiguity },
          { title: 'PREEMPTIBLE', value: (o) => yesNo(o.preemptible) },
          { title: 'WHEN', value: (o) => o.timing },
          {
            title: 'PRICE TO WIN',
            value: (o) => (o.priceToWin === null ? '-' : `${o.priceIsFloor ? '>=' : ''}${o.priceToWin}`),
            right: true,
          },
          { title: 'UNIT PRICE', value: (o) => dash(o.unitPrice), right: true },
          { title: 'COST', value: (o) => dash(o.cost), right: true },
          { title: 'WINS', value: (o) => yesNo(o.wouldWin) },
          { title: 'WHY NOT', value: (o) => dash(o.reason) },
          { title: 'BASIS', value: (o) => o.basis },
        ],
        offer.options,
      ).trimEnd(),
    );
  }
  return parts.join('\n') + '\n';
}

export interface PoolView {
  gpuModel: string;
  region: string;
  price: string | null;
  roundId: string | null;
  periodStart: string | null;
  marginalBidPrice: string | null;
  supplyGpus: number;
  freeGpus: number;
  reserveFloor: string | null;
  nodePrices?: { min: string | null; median: string | null; max: string | null } | null;
}

export function pricesTable(pools: readonly PoolView[]): string {
  if (pools.length === 0) return 'no pools\n';
  const band = (p: PoolView) =>
    p.nodePrices && p.nodePrices.min !== null
      ? `${p.nodePrices.min} / ${p.nodePrices.median} / ${p.nodePrices.max}`
      : '-';
  return renderTable<PoolView>(
    [
      { title: 'MODEL', value: (p) => p.gpuModel },
      { title: 'REGION', value: (p) => p.region },
      { title: 'INDEX', value: (p) => dash(p.price), right: true },
      { title: 'NODE PRICES min / median / max', value: band },
      { title: 'MARGINAL BID', value: (p) => dash(p.marginalBidPrice), right: true },
      { title: 'RESERVE FLOOR', value: (p) => dash(p.reserveFloor), right: true },
      { title: 'SUPPLY', value: (p) => String(p.supplyGpus), right: true },
      { title: 'FREE', value: (p) => String(p.freeGpus), right: true },
      { title: 'PRICED AT', value: (p) => formatInstant(p.periodStart) },
    ],
    pools,
  );
}

export interface LeaseView {
  id: string;
  bidId: string;
  state: string;
  gpuModel: string;
  gpus: number;
  limitPrice: string;
  preemptible: boolean;
  startedAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  nodes: Array<{ externalId: string; region: string; unitPrice: string }>;
}

export function leasesTable(leases: readonly LeaseView[]): string {
  if (leases.length === 0) return 'no leases\n';
  return renderTable<LeaseView>(
    [
      { title: 'ID', value: (l) => l.id },
      { title: 'BID', value: (l) => l.bidId },
      { title: 'STATE', value: (l) => l.state },
      { title: 'MODEL', value: (l) => l.gpuModel },
      { title: 'GPUS', value: (l) => String(l.gpus), right: true },
      { title: 'UNIT PRICE', value: (l) => dash(l.nodes[0]?.unitPrice), right: true },
      { title: 'LIMIT', value: (l) => l.limitPrice, right: true },
      { title: 'PREEMPTIBLE', value: (l) => yesNo(l.preemptible) },
      { title: 'NODES', value: (l) => l.nodes.map((n) => n.externalId).join(',') || '-' },
      { title: 'STARTED', value: (l) => formatInstant(l.startedAt) },
      { title: 'ENDED', value: (l) => formatInstant(l.endedAt) },
      { title: 'END REASON', value: (l) => dash(l.endReason) },
    ],
    leases,
  );
}

export interface LedgerView {
  from: string | null;
  to: string | null;
  entries: Array<{
    leaseId: string;
    gpuModel: string;
    region: string;
    periodStart: string;
    periodEnd: string;
    gpus: number;
    unitPrice: string;
    charge: string;
  }>;
  totals: { charges: string; count: number };
}

export function chargesTable(ledger: LedgerView): string {
  const range = `${ledger.from ? formatInstant(ledger.from) : 'the beginning'} to ${ledger.to ? formatInstant(ledger.to) : 'now'}`;
  const shown =
    ledger.entries.length < ledger.totals.count ? ` (newest ${ledger.entries.length} shown; --limit for more)` : '';
  const summary = `total charges ${ledger.totals.charges} over ${ledger.totals.count} entries, ${range}${shown}\n`;
  if (ledger.entries.length === 0) return summary;
  return (
    renderTable<LedgerView['entries'][number]>(
      [
        { title: 'FROM', value: (e) => formatInstant(e.periodStart) },
        { title: 'TO', value: (e) => formatInstant(e.periodEnd) },
        { title: 'LEASE', value: (e) => e.leaseId },
        { title: 'MODEL', value: (e) => e.gpuModel },
        { title: 'REGION', value: (e) => e.region },
        { title: 'GPUS', value: (e) => String(e.gpus), right: true },
        { title: 'UNIT PRICE', value: (e) => e.unitPrice, right: true },
        { title: 'CHARGE', value: (e) => e.charge, right: true },
      ],
      ledger.entries,
    ) + summary
  );
}
