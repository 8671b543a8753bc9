import { Inject, Injectable } from '@nestjs/common';
import { indexChange, perGpuHour } from '../../core/finance/pool-figures.js';
import {
  amountText,
  gpuHoursOf,
  netFeesOf,
  optionalPriceText,
  priceText,
  ratioOf,
  reconcile,
  rentOf,
  volumeWeightedPrice,
} from '../../core/finance/report-figures.js';
import { BUCKET_SECONDS, resolveRange, type Bucket, type ReportRange } from '../../core/finance/report-range.js';
import { demandPerPool } from '../../core/finance/round-demand.js';
import { toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { AuthError, AuthErrorCode, ValidationFailedError } from '../../platform/errors/app-error.js';
import { MAX_OFFER_PRICE } from '../bids/bid.dto.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../platform/http/keyset-cursor.js';
import type { Principal } from '../auth/principal.js';
import { MarketReadService } from '../market-api/market-read.service.js';
import { QuotesService } from '../quotes/quotes.service.js';
import {
  NODE_PRICES_DEFAULT_LIMIT,
  type BucketedQueryDto,
  type ClearingPricesReportDto,
  type NodePricesQueryDto,
  type NodePricesReportDto,
  type PoolSummaryQueryDto,
  type PoolSummaryReportDto,
  type ReconciliationReportDto,
  type ReportRangeQueryDto,
  type RevenueQueryDto,
  type RevenueReportDto,
  type RoundAuditDto,
  type TenantChargesReportDto,
  type UtilizationReportDto,
} from './report.dto.js';
import { type LedgerSumRow, ReportsRepository } from './reports.repository.js';

const ledgerFigures = (row: LedgerSumRow) => ({
  gpuHours: gpuHoursOf(row.gpuSeconds),
  charges: amountText(row.charges),
  uplift: amountText(row.uplift),
  payouts: amountText(row.payouts),
  fees: amountText(row.fees),
  netFees: netFeesOf(row.fees, row.uplift),
  entries: row.entries,
});

/** Finance's view of the market: prices, volumes, money and its reconciliation, one round explained. */
@Injectable()
export class ReportsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reports: ReportsRepository,
    private readonly market: MarketReadService,
    private readonly quotes: QuotesService,
  ) {}

  private range(query: ReportRangeQueryDto, bucket?: Bucket): ReportRange {
    const { range, problems } = resolveRange(
      {
        from: query.from === undefined ? undefined : new Date(query.from),
        to: query.to === undefined ? undefined : new Date(query.to),
        bucket,
      },
      new Date(),
      this.config.reportMaxSpanDays,
    );
    if (problems.length > 0) throw new ValidationFailedError(problems);
    return range;
  }

  /** GPU-hours a count of GPUs held for whole round periods represents. */
  private periodGpuHours(gpus: string): string {
    return gpuHoursOf(toMoney(gpus).times(this.config.roundPeriodSeconds));
  }

  async clearingPrices(query: BucketedQueryDto): Promise<ClearingPricesReportDto> {
    const bucket = query.bucket ?? '1h';
    const { from, to } = this.range(query, bucket);
    const rows = await this.reports.priceBuckets(from, to, BUCKET_SECONDS[bucket], {
      gpuModel: query.gpuModel,
      region: query.region,
    });
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket,
      roundPeriodSeconds: this.config.roundPeriodSeconds,
      rows: rows.map((r) => ({
        gpuModel: r.gpuModel,
        region: r.region,
        bucketStart: r.bucketStart.toISOString(),
        open: priceText(r.open),
        high: priceText(r.high),
        low: priceText(r.low),
        close: priceText(r.close),
        nodePrices: {
          min: optionalPriceText(r.bandMin),
          median: optionalPriceText(r.bandMedian),
          max: optionalPriceText(r.bandMax),
        },
        vwap: r.paidGpus === null ? null : volumeWeightedPrice(r.chargeVolume ?? '0', r.paidGpus),
        paidGpuHours: this.periodGpuHours(r.paidGpus ?? '0'),
        gpuHours: this.periodGpuHours(r.soldGpus),
        rounds: r.rounds,
        closeRoundId: r.closeRoundId,
        marginalBid:
          r.marginalBidId === null
            ? null
            : { id: r.marginalBidId, limit: r.marginalLimit === null ? null : priceText(r.marginalLimit) },
      })),
    };
  }

  async utilization(query: BucketedQueryDto): Promise<UtilizationReportDto> {
    const bucket = query.bucket ?? '1h';
    const { from, to } = this.range(query, bucket);
    const rows = await this.reports.priceBuckets(from, to, BUCKET_SECONDS[bucket], {
      gpuModel: query.gpuModel,
      region: query.region,
    });
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      bucket,
      roundPeriodSeconds: this.config.roundPeriodSeconds,
      rows: rows.map((r) => ({
        gpuModel: r.gpuModel,
        region: r.region,
        bucketStart: r.bucketStart.toISOString(),
        soldGpuHours: this.periodGpuHours(r.soldGpus),
        availableGpuHours: this.periodGpuHours(r.supplyGpus),
        utilization: ratioOf(r.soldGpus, r.supplyGpus),
      })),
    };
  }

  async revenue(query: RevenueQueryDto): Promise<RevenueReportDto> {
    const groupBy = query.groupBy ?? 'day';
    const { from, to } = this.range(query);
    const pool = { gpuModel: query.gpuModel, region: query.region };
    const [rows, totals] = await Promise.all([
      this.reports.revenue(from, to, groupBy, pool),
      this.reports.ledgerTotals(from, to, pool),
    ]);
    const figures = ledgerFigures(totals);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      groupBy,
      rows: rows.map((r) => ({
        ...(groupBy === 'provider' ? { providerId: r.providerId, providerName: r.providerName } : {}),
        ...(groupBy === 'tenant' ? { tenantId: r.tenantId, tenantName: r.tenantName } : {}),
        ...(groupBy === 'pool' ? { gpuModel: r.gpuModel, region: r.region } : {}),
        ...(groupBy === 'day' ? { day: r.day!.toISOString().slice(0, 10) } : {}),
        ...ledgerFigures(r),
      })),
      totals: figures,
      takeRate: ratioOf(figures.netFees, totals.charges),
    };
  }

  /**
   * Per pool: the index and band now (the latest committed round before `to`) and its 24 h
   * change, what a 1-GPU bid would have to offer to win now (the quotes' own computation, so the
   * dashboard and POST /v1/quotes never disagree), and how often preemptible leases there were
   * preempted per GPU-hour they ran in the range.
   */
  async poolSummary(query: PoolSummaryQueryDto): Promise<PoolSummaryReportDto> {
    const { from, to } = this.range(query);
    const rows = await this.reports.poolSummary(from, to, { gpuModel: query.gpuModel, region: query.region });
    const toWin = await Promise.all(rows.map((r) => this.priceToWinNow(r.gpuModel, r.region)));
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      rows: rows.map((r, i) => {
        const change = indexChange(r.price, r.dayAgoPrice);
        return {
          gpuModel: r.gpuModel,
          region: r.region,
          roundId: r.roundId,
          periodStart: r.periodStart?.toISOString() ?? null,
          index: optionalPriceText(r.price),
          nodePrices: {
            min: optionalPriceText(r.bandMin),
            median: optionalPriceText(r.bandMedian),
            max: optionalPriceText(r.bandMax),
          },
          indexDayAgo: optionalPriceText(r.dayAgoPrice),
          change24h: change.change,
          changePercent24h: change.percent,
          priceToWin: toWin[i].priceToWin,
          priceToWinReason: toWin[i].reason,
          gpuHours: gpuHoursOf(r.gpuSeconds),
          preemptibleGpuHours: gpuHoursOf(r.preemptibleGpuSeconds),
          preemptions: r.preemptions,
          preemptionsPerPreemptibleGpuHour: perGpuHour(r.preemptions, r.preemptibleGpuSeconds),
        };
      }),
    };
  }

  /**
   * A quote for the most flexible bid on one pool: 1 GPU, no contiguity, not preemptible (a
   * preemptible bid wins at the same price), with the highest limit a bid may carry so that the
   * quote reports the price to win rather than a loss to the limit. A model since removed from
   * the catalogue cannot be quoted: its price to win is null.
   */
  private async priceToWinNow(
    gpuModel: string,
    region: string,
  ): Promise<{ priceToWin: string | null; reason: string | null }> {
    try {
      const quote = await this.quotes.quote({
        gpus: 1,
        offers: [{ gpuModel, maxPrice: MAX_OFFER_PRICE }],
        contiguity: 'none',
        preemptible: false,
        runtimeSeconds: 3600,
        regions: [region],
        // A quote runs nothing: a bid needs a workload to be valid, and none changes its price.
        workload: { command: ['true'] },
      });
      const option = quote.offers[0].options.find(
        (o) => o.contiguity === 'none' && !o.preemptible && o.timing === 'now',
      );
      return { priceToWin: option?.priceToWin ?? null, reason: option?.priceToWin ? null : (option?.reason ?? null) };
    } catch (error) {
      if (error instanceof ValidationFailedError) return { priceToWin: null, reason: 'not_quotable' };
      throw error;
    }
  }

  async tenantCharges(query: ReportRangeQueryDto): Promise<TenantChargesReportDto> {
    const { from, to } = this.range(query);
    const rows = await this.reports.tenantCharges(from, to);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      rows: rows.map((r) => ({
        tenantId: r.tenantId,
        tenantName: r.tenantName,
        gpuModel: r.gpuModel,
        region: r.region,
        gpuHours: gpuHoursOf(r.gpuSeconds),
        charges: amountText(r.charges),
        uplift: amountText(r.uplift),
        entries: r.entries,
      })),
    };
  }

  async reconciliation(query: ReportRangeQueryDto): Promise<ReconciliationReportDto> {
    const { from, to } = this.range(query);
    const [days, totals, breaks] = await Promise.all([
      this.reports.revenue(from, to, 'day'),
      this.reports.ledgerTotals(from, to),
      this.reports.unbalancedRounds(from, to),
    ]);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      totals: { ...reconcile(totals), entries: totals.entries },
      rows: days.map((d) => ({ day: d.day!.toISOString().slice(0, 10), ...reconcile(d), entries: d.entries })),
      breaks: breaks.map((b) => ({
        roundId: b.roundId,
        seq: b.seq === null ? null : Number(b.seq),
        link: b.roundId === null ? null : `/v1/reports/rounds/${b.roundId}/audit`,
        ...reconcile(b),
        entries: b.entries,
      })),
    };
  }

  async roundAudit(id: string): Promise<RoundAuditDto> {
    const round = await this.market.round(id);
    const [prices, winners, losers] = await Promise.all([
      this.reports.auditPrices(id),
      this.reports.auditWinners(id),
      this.reports.auditLosers(id),
    ]);
    const placed = winners.flatMap((w) =>
      (w.nodes ?? []).map((n) => ({ bidId: w.bidId, gpuModel: w.gpuModel, region: n.region, gpus: n.gpus })),
    );
    const demand = demandPerPool(
      round.prices,
      placed,
      losers.map((l) => ({
        bidId: l.bidId,
        gpus: l.gpus,
        gpuModels: (l.offers ?? []).map((o) => o.gpuModel),
        regions: l.regions,
      })),
    );
    const marginal = new Map(prices.map((p) => [`${p.gpuModel}\u0000${p.region}`, p]));
    const { prices: _prices, timings: _timings, stats: _stats, ...summary } = round;
    const names = await this.reports.names({
      tenants: [
        ...new Set([
          ...winners.map((w) => w.tenantId),
          ...losers.map((l) => l.tenantId),
          ...prices.flatMap((p) => (p.marginalTenantId ? [p.marginalTenantId] : [])),
        ]),
      ],
      providers: [...new Set(winners.flatMap((w) => (w.nodes ?? []).map((n) => n.providerId)))],
      nodes: [...new Set(winners.flatMap((w) => (w.nodes ?? []).map((n) => n.nodeId)))],
    });
    const named = (kind: 'tenant' | 'provider' | 'node') =>
      Object.fromEntries(names.filter((n) => n.kind === kind).map((n) => [n.id, n.name]));
    return {
      round: summary,
      names: { tenants: named('tenant'), providers: named('provider'), nodes: named('node') },
      pools: round.prices.map((p, i) => {
        const m = marginal.get(`${p.gpuModel}\u0000${p.region}`);
        return {
          gpuModel: p.gpuModel,
          region: p.region,
          price: p.price,
          nodePrices: p.nodePrices,
          chargeVwap: p.chargeVwap,
          supplyGpus: p.supplyGpus,
          soldGpus: p.soldGpus,
          demandGpus: demand[i].demandGpus,
          wonGpus: demand[i].wonGpus,
          lostGpus: demand[i].lostGpus,
          marginalBid:
            p.marginalBidId === null
              ? null
              : {
                  id: p.marginalBidId,
                  kind: m?.marginalKind ?? null,
                  tenantId: m?.marginalTenantId ?? null,
                  limit: m?.marginalLimit ? priceText(m.marginalLimit) : null,
                },
        };
      }),
      demandGpus: winners.reduce((t, w) => t + w.gpus, 0) + losers.reduce((t, l) => t + l.gpus, 0),
      winners: winners.map((w) => ({
        bidId: w.bidId,
        leaseId: w.leaseId,
        tenantId: w.tenantId,
        gpuModel: w.gpuModel,
        gpus: w.gpus,
        limitPrice: priceText(w.limitPrice),
        preemptible: w.preemptible,
        state: w.state,
        unitPrice: optionalPriceText(w.roundUnitPrice),
        uplift: optionalPriceText(w.roundUplift),
        nodes: (w.nodes ?? []).map((n) => ({
          nodeId: n.nodeId,
          providerId: n.providerId,
          region: n.region,
          gpus: n.gpus,
          roundNodePrice: optionalPriceText(n.roundNodePrice),
          unitPrice: priceText(n.unitPrice),
          nodePrice: priceText(n.nodePrice),
          uplift: priceText(n.uplift),
        })),
      })),
      losers: losers.map(({ paradox, ...l }) => ({
        bidId: l.bidId,
        tenantId: l.tenantId,
        reason: l.reason,
        paradoxicallyRejected: paradox
          ? { reason: paradox.reason, gpuModel: paradox.gpuModel, cheapestPrice: priceText(paradox.cheapestPrice) }
          : null,
        gpus: l.gpus,
        contiguity: l.contiguity,
        regions: l.regions,
        offers: (l.offers ?? []).map((o) => ({ gpuModel: o.gpuModel, maxPrice: priceText(o.maxPrice) })),
      })),
    };
  }

  /**
   * Committed rounds' node prices: finance and admin read every node's, a provider only its own
   * (naming another provider is a 403; a node that is not its own matches nothing).
   */
  async nodePrices(principal: Principal, query: NodePricesQueryDto): Promise<NodePricesReportDto> {
    const { from, to } = this.range(query);
    let providerId = query.provider;
    if (principal.role === 'provider') {
      if (providerId !== undefined && providerId !== principal.providerId) {
        throw new AuthError(AuthErrorCode.WrongRole, "a provider key reads only its own nodes' prices");
      }
      providerId = principal.providerId!;
    }
    const limit = query.limit ?? NODE_PRICES_DEFAULT_LIMIT;
    const after = query.cursor === undefined ? undefined : decodeKeysetCursor(query.cursor);
    const rows = await this.reports.nodePrices(
      from,
      to,
      { providerId, nodeId: query.node, gpuModel: query.gpuModel, region: query.region },
      limit + 1,
      after,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      rows: page.map((r) => ({
        roundId: r.roundId,
        periodStart: r.periodStart.toISOString(),
        nodeId: r.nodeId,
        externalId: r.externalId,
        providerId: r.providerId,
        gpuModel: r.gpuModel,
        region: r.region,
        reservePrice: priceText(r.reservePrice),
        price: priceText(r.price),
        rent: rentOf(r.price, r.reservePrice),
      })),
      nextCursor: rows.length > limit ? encodeKeysetCursor(last.cursorTime, last.nodeId) : null,
    };
  }
}
