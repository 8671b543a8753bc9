import { Injectable } from '@nestjs/common';
import { formatAmount, formatPrice, Money, toMoney } from '../../core/money/money.js';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import { AgentStatusService } from '../agent-gateway/agent-status.service.js';
import type { Principal } from '../auth/principal.js';
import { LeaseSyncService } from '../dispatch/lease-sync.service.js';
import type {
  LeaseDto,
  LeasePageDto,
  LeaseStatusReportDto,
  LedgerDto,
  LedgerQueryDto,
  ListLeasesQueryDto,
  MarketPricesDto,
  PageQueryDto,
  PoolPriceDto,
  RoundDto,
  RoundPageDto,
  RoundSummaryDto,
} from './market-read.dto.js';
import { MarketReadError, MarketReadErrorCode } from './market-read.error.js';
import {
  type LeaseRow,
  MarketReadRepository,
  type PoolPriceRow,
  type ReadScope,
  type RoundRow,
} from './market-read.repository.js';
import { decodeKeysetCursor, encodeKeysetCursor } from '../../platform/http/keyset-cursor.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const badCursor = () =>
  new ValidationFailedError([
    { field: 'cursor', rule: 'is_cursor', message: 'cursor must be a nextCursor returned by this API' },
  ]);

export function scopeOf(principal: Principal): ReadScope {
  if (principal.role === 'tenant') return { kind: 'tenant', id: principal.tenantId! };
  if (principal.role === 'provider') return { kind: 'provider', id: principal.providerId! };
  return { kind: 'all' };
}

/** (upperBound - welfare) / upperBound, exact then rounded to 6 places; 0 when both are 0. */
export function optimalityGap(welfare: string | null, upperBound: string | null): string | null {
  if (welfare === null || upperBound === null) return null;
  const bound = toMoney(upperBound);
  if (bound.isZero()) return toMoney(welfare).isZero() ? formatAmount(new Money(0)) : null;
  return formatAmount(bound.minus(welfare).dividedBy(bound));
}

function toRoundSummary(row: RoundRow): RoundSummaryDto {
  return {
    id: row.id,
    seq: Number(row.seq),
    periodStart: row.periodStart.toISOString(),
    state: row.state,
    startedAt: row.startedAt.toISOString(),
    committedAt: iso(row.committedAt),
    solver: row.solver,
    solverStatus: row.solverStatus,
    welfare: row.welfare === null ? null : formatAmount(toMoney(row.welfare)),
    upperBound: row.upperBound === null ? null : formatAmount(toMoney(row.upperBound)),
    gap: optimalityGap(row.welfare, row.upperBound),
    openBids: row.openBids,
    placements: row.placements,
    preemptions: row.preemptions,
    expired: row.expired,
  };
}

function toPoolPrice(row: PoolPriceRow): PoolPriceDto {
  return {
    gpuModel: row.gpuModel,
    region: row.region,
    price: formatPrice(toMoney(row.price)),
    marginalBidId: row.marginalBidId,
    marginalBidPrice: row.marginalBidPrice === null ? null : formatPrice(toMoney(row.marginalBidPrice)),
    supplyGpus: row.supplyGpus,
    soldGpus: row.soldGpus,
    nodePrices: {
      min: optionalPrice(row.minNodePrice),
      median: optionalPrice(row.medianNodePrice),
      max: optionalPrice(row.maxNodePrice),
    },
    chargeVwap: optionalPrice(row.chargeVwap),
  };
}

const optionalPrice = (text: string | null) => (text === null ? null : formatPrice(toMoney(text)));

function toLeaseDto(row: LeaseRow, scope: ReadScope): LeaseDto {
  // A provider sees only its own share of a lease that spans providers.
  const nodes = (row.nodes ?? []).filter((n) => scope.kind !== 'provider' || n.providerId === scope.id);
  return {
    id: row.id,
    bidId: row.bidId,
    tenantId: row.tenantId,
    roundId: row.roundId,
    gpuModel: row.gpuModel,
    gpus: row.gpus,
    limitPrice: formatPrice(toMoney(row.limitPrice)),
    preemptible: row.preemptible,
    state: row.state,
    runtimeSeconds: row.runtimeSeconds,
    allocatedAt: row.allocatedAt.toISOString(),
    startedAt: iso(row.startedAt),
    protectedUntil: iso(row.protectedUntil),
    noticeEndsAt: iso(row.noticeEndsAt),
    endedAt: iso(row.endedAt),
    endReason: row.endReason,
    exitCode: row.exitCode,
    settledUntil: iso(row.settledUntil),
    stopFailure: row.stopFailedAt
      ? { at: row.stopFailedAt.toISOString(), error: row.stopError ?? '', confirmedAt: iso(row.stopConfirmedAt) }
      : null,
    nodes: nodes.map((n) => ({
      ...n,
      unitPrice: formatPrice(toMoney(n.unitPrice)),
      nodePrice: formatPrice(toMoney(n.nodePrice)),
      uplift: formatPrice(toMoney(n.uplift)),
    })),
  };
}

const encode = (...parts: string[]) => Buffer.from(parts.join('|')).toString('base64url');
const decode = (cursor: string) => Buffer.from(cursor, 'base64url').toString('utf8').split('|');

/** Rounds, prices, leases and the ledger, each scoped to what the caller may see. */
@Injectable()
export class MarketReadService {
  constructor(
    private readonly reads: MarketReadRepository,
    private readonly leaseSync: LeaseSyncService,
    private readonly agentStatus: AgentStatusService,
  ) {}

  async rounds(query: PageQueryDto): Promise<RoundPageDto> {
    const limit = query.limit ?? 50;
    let before: string | undefined;
    if (query.cursor !== undefined) {
      [before] = decode(query.cursor);
      if (!before || !/^\d{1,18}$/.test(before)) throw badCursor();
    }
    const rows = await this.reads.roundsPage(limit + 1, before);
    const page = rows.slice(0, limit);
    return {
      rounds: page.map(toRoundSummary),
      nextCursor: rows.length > limit ? encode(page[page.length - 1].seq) : null,
    };
  }

  async round(id: string): Promise<RoundDto> {
    const row = UUID.test(id) ? await this.reads.round(id) : null;
    if (!row) throw new MarketReadError(MarketReadErrorCode.RoundNotFound, `no round ${id}`);
    const prices = await this.reads.roundPrices(id);
    return { ...toRoundSummary(row), prices: prices.map(toPoolPrice), timings: row.timings, stats: row.stats };
  }

  async prices(): Promise<MarketPricesDto> {
    const pools = await this.reads.poolsNow();
    return {
      pools: pools.map((p) => ({
        gpuModel: p.gpuModel,
        region: p.region,
        price: p.price === null ? null : formatPrice(toMoney(p.price)),
        roundId: p.roundId,
        periodStart: iso(p.periodStart),
        marginalBidId: p.marginalBidId,
        marginalBidPrice: p.marginalBidPrice === null ? null : formatPrice(toMoney(p.marginalBidPrice)),
        supplyGpus: p.supplyGpus,
        freeGpus: p.freeGpus,
        reserveFloor: p.reserveFloor === null ? null : formatPrice(toMoney(p.reserveFloor)),
      })),
    };
  }

  async leases(principal: Principal, query: ListLeasesQueryDto): Promise<LeasePageDto> {
    const scope = scopeOf(principal);
    const limit = query.limit ?? 50;
    let after: { time: string; id: string } | undefined;
    if (query.cursor !== undefined) {
      after = decodeKeysetCursor(query.cursor);
    }
    const needsAttention = query.needsAttention === undefined ? undefined : query.needsAttention === 'true';
    const rows = await this.reads.leasesPage(scope, { state: query.state, needsAttention, limit: limit + 1, after });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      leases: page.map((r) => toLeaseDto(r, scope)),
      nextCursor: rows.length > limit ? encodeKeysetCursor(last.cursorTime, last.id) : null,
    };
  }

  async lease(principal: Principal, id: string): Promise<LeaseDto> {
    const scope = scopeOf(principal);
    const row = UUID.test(id) ? await this.reads.lease(scope, id) : null;
    if (!row) throw new MarketReadError(MarketReadErrorCode.LeaseNotFound, `no lease ${id}`);
    return toLeaseDto(row, scope);
  }

  /**
   * A provider's report on a workload of one of its leases, applied as a status poll would be.
   * A node agent's report speaks for its node only: the lease follows all its nodes' reports.
   */
  async report(principal: Principal, id: string, report: LeaseStatusReportDto): Promise<LeaseDto> {
    await this.lease(principal, id);
    const aggregate = await this.agentStatus.record(principal.providerId!, id, report);
    await this.leaseSync.apply(
      id,
      aggregate ?? { state: report.state, exitCode: report.exitCode, message: report.message },
    );
    return this.lease(principal, id);
  }

  async ledger(principal: Principal, query: LedgerQueryDto): Promise<LedgerDto> {
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    if (from && to && from.getTime() >= to.getTime()) {
      throw new ValidationFailedError([{ field: 'to', rule: 'after_from', message: 'to must be after from' }]);
    }
    const { entries, totals } = await this.reads.ledger(scopeOf(principal), { from, to }, query.limit ?? 500);
    return {
      from: iso(from ?? null),
      to: iso(to ?? null),
      entries: entries.map((e) => ({
        ...e,
        periodStart: e.periodStart.toISOString(),
        periodEnd: e.periodEnd.toISOString(),
        unitPrice: formatPrice(toMoney(e.unitPrice)),
        nodePrice: formatPrice(toMoney(e.nodePrice)),
        charge: formatAmount(toMoney(e.charge)),
        uplift: formatAmount(toMoney(e.uplift)),
        fee: formatAmount(toMoney(e.fee)),
        payout: formatAmount(toMoney(e.payout)),
      })),
      totals: {
        charges: formatAmount(toMoney(totals.charges)),
        uplift: formatAmount(toMoney(totals.uplift)),
        fees: formatAmount(toMoney(totals.fees)),
        payouts: formatAmount(toMoney(totals.payouts)),
        count: totals.count,
      },
    };
  }
}
