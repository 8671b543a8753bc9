import { stringify } from 'csv-stringify/sync';
import type {
  ClearingPricesReportDto,
  NodePricesReportDto,
  PoolSummaryReportDto,
  ReconciliationReportDto,
  RevenueReportDto,
  RoundAuditDto,
  TenantChargesReportDto,
  UtilizationReportDto,
} from './report.dto.js';

type Cell = string | number | boolean | null | undefined;

/** One report as a flat table: the CSV form of its rows. Figures stay the exact decimal strings of the JSON. */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<object>;
}

/**
 * Columns holding text people typed (tenant and provider names). A spreadsheet would run a cell
 * starting with = + - @ as a formula, so such a name gets a leading apostrophe. Only these
 * columns: every other cell is an id, a validated label, or a decimal (whose minus sign must stay).
 */
const FREE_TEXT = new Set(['tenantName', 'providerName']);
const FORMULA_START = /^[=+\-@\t\r]/;

export function toCsv(table: CsvTable): string {
  return stringify(table.rows as Array<Record<string, Cell>>, {
    header: true,
    columns: [...table.columns],
    cast: {
      boolean: (value) => (value ? 'true' : 'false'),
      string: (value, context) =>
        FREE_TEXT.has(String(context.column)) && FORMULA_START.test(value) ? `'${value}` : value,
    },
  });
}

export function clearingPricesCsv(report: ClearingPricesReportDto): CsvTable {
  return {
    columns: [
      'gpuModel',
      'region',
      'bucketStart',
      'open',
      'high',
      'low',
      'close',
      'nodePriceMin',
      'nodePriceMedian',
      'nodePriceMax',
      'vwap',
      'paidGpuHours',
      'gpuHours',
      'rounds',
      'closeRoundId',
      'marginalBidId',
      'marginalBidLimit',
    ],
    rows: report.rows.map(({ marginalBid, nodePrices, ...row }) => ({
      ...row,
      nodePriceMin: nodePrices.min,
      nodePriceMedian: nodePrices.median,
      nodePriceMax: nodePrices.max,
      marginalBidId: marginalBid?.id,
      marginalBidLimit: marginalBid?.limit,
    })),
  };
}

export function utilizationCsv(report: UtilizationReportDto): CsvTable {
  return {
    columns: ['gpuModel', 'region', 'bucketStart', 'soldGpuHours', 'availableGpuHours', 'utilization'],
    rows: report.rows,
  };
}

const LEDGER_COLUMNS = ['gpuHours', 'charges', 'uplift', 'payouts', 'fees', 'netFees', 'entries'];
const GROUP_COLUMNS = {
  provider: ['providerId', 'providerName'],
  tenant: ['tenantId', 'tenantName'],
  pool: ['gpuModel', 'region'],
  day: ['day'],
};

export function revenueCsv(report: RevenueReportDto): CsvTable {
  return { columns: [...GROUP_COLUMNS[report.groupBy], ...LEDGER_COLUMNS], rows: report.rows };
}

export function tenantChargesCsv(report: TenantChargesReportDto): CsvTable {
  return {
    columns: ['tenantId', 'tenantName', 'gpuModel', 'region', 'gpuHours', 'charges', 'uplift', 'entries'],
    rows: report.rows,
  };
}

/** Days, then each unbalanced round, then the total: `scope` says which a row is. */
export function reconciliationCsv(report: ReconciliationReportDto): CsvTable {
  return {
    columns: ['scope', 'day', 'roundId', 'charges', 'uplift', 'payouts', 'fees', 'difference', 'balanced', 'entries'],
    rows: [
      ...report.rows.map((row) => ({ scope: 'day', ...row })),
      ...report.breaks.map(({ link: _link, seq: _seq, ...row }) => ({ scope: 'round', ...row })),
      { scope: 'total', ...report.totals },
    ],
  };
}

export function poolSummaryCsv(report: PoolSummaryReportDto): CsvTable {
  return {
    columns: [
      'gpuModel',
      'region',
      'roundId',
      'periodStart',
      'index',
      'nodePriceMin',
      'nodePriceMedian',
      'nodePriceMax',
      'indexDayAgo',
      'change24h',
      'changePercent24h',
      'priceToWin',
      'priceToWinReason',
      'gpuHours',
      'preemptibleGpuHours',
      'preemptions',
      'preemptionsPerPreemptibleGpuHour',
    ],
    rows: report.rows.map(({ nodePrices, ...row }) => ({
      ...row,
      nodePriceMin: nodePrices.min,
      nodePriceMedian: nodePrices.median,
      nodePriceMax: nodePrices.max,
    })),
  };
}

/**
 * One row per bid of the round, winners first; a paradoxically rejected loser names why and what its GPUs would have
 * cost.
 */
export function roundAuditCsv(audit: RoundAuditDto): CsvTable {
  return {
    columns: [
      'roundId',
      'outcome',
      'bidId',
      'tenantId',
      'gpus',
      'reason',
      'leaseId',
      'gpuModel',
      'limitPrice',
      'unitPrice',
      'uplift',
      'paradoxicallyRejected',
      'cheapestPrice',
      'offers',
      'regions',
    ],
    rows: [
      ...audit.winners.map((w) => ({
        roundId: audit.round.id,
        outcome: 'won',
        bidId: w.bidId,
        tenantId: w.tenantId,
        gpus: w.gpus,
        leaseId: w.leaseId,
        gpuModel: w.gpuModel,
        limitPrice: w.limitPrice,
        unitPrice: w.unitPrice,
        uplift: w.uplift,
        regions: [...new Set(w.nodes.map((n) => n.region))].join(' '),
      })),
      ...audit.losers.map((l) => ({
        roundId: audit.round.id,
        outcome: 'lost',
        bidId: l.bidId,
        tenantId: l.tenantId,
        gpus: l.gpus,
        reason: l.reason,
        gpuModel: l.paradoxicallyRejected?.gpuModel,
        paradoxicallyRejected: l.paradoxicallyRejected?.reason,
        cheapestPrice: l.paradoxicallyRejected?.cheapestPrice,
        offers: l.offers.map((o) => `${o.gpuModel}@${o.maxPrice}`).join(' '),
        regions: l.regions.join(' '),
      })),
    ],
  };
}

export function nodePricesCsv(report: NodePricesReportDto): CsvTable {
  return {
    columns: [
      'roundId',
      'periodStart',
      'nodeId',
      'externalId',
      'providerId',
      'gpuModel',
      'region',
      'reservePrice',
      'price',
      'rent',
    ],
    rows: report.rows,
  };
}
