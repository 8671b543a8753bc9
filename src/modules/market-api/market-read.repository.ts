import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { STOP_UNCONFIRMED, UNSELLABLE_GPUS } from '../leases/held-gpus.js';

/** Who is asking, as the read side needs it: admin and finance see everything. */
export type ReadScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'tenant'; readonly id: string }
  | { readonly kind: 'provider'; readonly id: string };

export interface RoundRow {
  id: string;
  seq: string;
  periodStart: Date;
  state: string;
  startedAt: Date;
  committedAt: Date | null;
  solver: string | null;
  solverStatus: string | null;
  welfare: string | null;
  upperBound: string | null;
  openBids: number;
  placements: number;
  preemptions: number;
  expired: number;
  timings: Record<string, number>;
  stats: Record<string, unknown>;
}

export interface PoolPriceRow {
  roundId: string;
  periodStart: Date;
  gpuModel: string;
  region: string;
  price: string;
  marginalBidId: string | null;
  marginalBidPrice: string | null;
  supplyGpus: number;
  soldGpus: number;
  /** Null on rounds older than node prices only where the migration could not fill them. */
  minNodePrice: string | null;
  medianNodePrice: string | null;
  maxNodePrice: string | null;
  chargeVwap: string | null;
}

/** A pool as it stands now: its latest committed price (if any) and its active supply. */
export interface PoolNowRow {
  gpuModel: string;
  region: string;
  price: string | null;
  roundId: string | null;
  periodStart: Date | null;
  marginalBidId: string | null;
  marginalBidPrice: string | null;
  supplyGpus: number;
  freeGpus: number;
  reserveFloor: string | null;
}

/** An active node with what it has free now; the quote's feasibility check reads these. */
export interface LeaseRow {
  id: string;
  bidId: string;
  tenantId: string;
  roundId: string;
  gpuModel: string;
  gpus: number;
  limitPrice: string;
  preemptible: boolean;
  state: string;
  runtimeSeconds: number;
  allocatedAt: Date;
  startedAt: Date | null;
  protectedUntil: Date | null;
  noticeEndsAt: Date | null;
  endedAt: Date | null;
  endReason: string | null;
  exitCode: number | null;
  settledUntil: Date | null;
  stopFailedAt: Date | null;
  stopError: string | null;
  stopConfirmedAt: Date | null;
  createdAt: Date;
  cursorTime: string;
  nodes: Array<{
    nodeId: string;
    providerId: string;
    externalId: string;
    region: string;
    gpus: number;
    unitPrice: string;
    nodePrice: string;
    uplift: string;
  }>;
}

export interface LedgerRow {
  id: string;
  roundId: string | null;
  leaseId: string;
  bidId: string;
  tenantId: string;
  providerId: string;
  nodeId: string;
  gpuModel: string;
  region: string;
  periodStart: Date;
  periodEnd: Date;
  seconds: number;
  gpus: number;
  unitPrice: string;
  nodePrice: string;
  charge: string;
  uplift: string;
  fee: string;
  payout: string;
}

export interface LedgerTotalsRow {
  charges: string;
  uplift: string;
  fees: string;
  payouts: string;
  count: number;
}

const ROUND_COLUMNS = `
  r.id, r.seq::text AS seq, r.period_start AS "periodStart", r.state, r.started_at AS "startedAt", r.committed_at AS "committedAt",
  r.solver, r.solver_status AS "solverStatus", r.welfare::text AS welfare, r.upper_bound::text AS "upperBound",
  r.open_bids AS "openBids", r.placements, r.preemptions, r.expired, r.timings, r.stats`;

const PRICE_COLUMNS = `
  pp.round_id AS "roundId", pp.period_start AS "periodStart", pp.gpu_model AS "gpuModel", pp.region, pp.price::text AS price,
  pp.marginal_bid_id AS "marginalBidId", COALESCE(mo.max_price, ml.limit_price)::text AS "marginalBidPrice",
  pp.supply_gpus AS "supplyGpus", pp.sold_gpus AS "soldGpus", pp.min_node_price::text AS "minNodePrice",
  pp.median_node_price::text AS "medianNodePrice", pp.max_node_price::text AS "maxNodePrice", pp.charge_vwap::text AS "chargeVwap"`;

// The marginal bid's limit per GPU-hour in the pool's GPU model (its offer for that model), or,
// when a displaced running lease set the price, that lease's limit.
const MARGINAL_JOINS = `
  LEFT JOIN bid_offers mo ON mo.bid_id = pp.marginal_bid_id AND mo.gpu_model = pp.gpu_model
  LEFT JOIN leases ml ON ml.id = pp.marginal_bid_id`;

// GPUs held per node by leases that hold them now (a preempting lease's GPUs may already be
// promised to its successor, which is allocated, so counting both would count them twice), and
// by workloads the market failed to stop.
const HELD_PER_NODE = `
  SELECT ln.node_id, sum(ln.gpus)::int AS gpus
    FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
   WHERE l.state IN ('allocated', 'running') OR ${STOP_UNCONFIRMED}
   GROUP BY ln.node_id`;

const LEASE_SELECT = `
  SELECT l.id, l.bid_id AS "bidId", l.tenant_id AS "tenantId", l.round_id AS "roundId", l.gpu_model AS "gpuModel", l.gpus,
         l.limit_price::text AS "limitPrice", l.preemptible, l.state, l.runtime_seconds AS "runtimeSeconds",
         l.allocated_at AS "allocatedAt", l.started_at AS "startedAt", l.protected_until AS "protectedUntil",
         l.notice_ends_at AS "noticeEndsAt", l.ended_at AS "endedAt", l.end_reason AS "endReason", l.exit_code AS "exitCode",
         l.settled_until AS "settledUntil", l.stop_failed_at AS "stopFailedAt", l.stop_error AS "stopError",
         l.stop_confirmed_at AS "stopConfirmedAt", l.created_at AS "createdAt", l.created_at::text AS "cursorTime",
         (SELECT json_agg(json_build_object('nodeId', ln.node_id, 'providerId', ln.provider_id, 'externalId', n.external_id,
                                            'region', ln.region, 'gpus', ln.gpus, 'unitPrice', ln.unit_price::text,
                                            'nodePrice', ln.node_price::text, 'uplift', ln.uplift::text) ORDER BY ln.node_id)
            FROM lease_nodes ln JOIN nodes n ON n.id = ln.node_id WHERE ln.lease_id = l.id) AS nodes
    FROM leases l`;

function scopeFilter(
  scope: ReadScope,
  params: unknown[],
  tenantColumn: string,
  providerClause: (p: string) => string,
): string {
  if (scope.kind === 'tenant') return `${tenantColumn} = $${params.push(scope.id)}`;
  if (scope.kind === 'provider') return providerClause(`$${params.push(scope.id)}`);
  return 'TRUE';
}

/** The read side of the market: rounds, prices, leases and the ledger as callers may see them. */
@Injectable()
export class MarketReadRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Newest first; `beforeSeq` is the seq of the last round of the previous page. */
  async roundsPage(limit: number, beforeSeq?: string): Promise<RoundRow[]> {
    const params: unknown[] = [limit];
    const where = beforeSeq === undefined ? 'TRUE' : `r.seq < $${params.push(beforeSeq)}::bigint`;
    return this.dataSource.query(
      `SELECT ${ROUND_COLUMNS} FROM rounds r WHERE ${where} ORDER BY r.seq DESC LIMIT $1`,
      params,
    );
  }

  async round(id: string): Promise<RoundRow | null> {
    const rows: RoundRow[] = await this.dataSource.query(`SELECT ${ROUND_COLUMNS} FROM rounds r WHERE r.id = $1`, [id]);
    return rows[0] ?? null;
  }

  async roundPrices(roundId: string): Promise<PoolPriceRow[]> {
    return this.dataSource.query(
      `SELECT ${PRICE_COLUMNS} FROM pool_prices pp ${MARGINAL_JOINS} WHERE pp.round_id = $1 ORDER BY pp.gpu_model, pp.region`,
      [roundId],
    );
  }

  /**
   * Every pool that has a committed price or active nodes now: the latest committed price,
   * the active GPUs, the GPUs not held by an allocated or running lease, and the lowest
   * reserve among its active nodes (the floor the price falls to when the pool is idle).
   */
  async poolsNow(gpuModel?: string): Promise<PoolNowRow[]> {
    const params: unknown[] = [];
    const model = (alias: string) => (gpuModel === undefined ? 'TRUE' : `${alias}.gpu_model = $1`);
    if (gpuModel !== undefined) params.push(gpuModel);
    return this.dataSource.query(
      `WITH latest AS (
         SELECT DISTINCT ON (pp.gpu_model, pp.region) ${PRICE_COLUMNS}
           FROM pool_prices pp JOIN rounds r ON r.id = pp.round_id AND r.state = 'committed' ${MARGINAL_JOINS}
          WHERE ${model('pp')}
          ORDER BY pp.gpu_model, pp.region, pp.period_start DESC
       ), supply AS (
         SELECT n.gpu_model, n.region, sum(n.gpus)::int AS supply,
                sum(GREATEST(n.gpus - COALESCE(h.gpus, 0) - ${UNSELLABLE_GPUS}, 0))::int AS free, min(n.reserve_price)::text AS floor
           FROM nodes n LEFT JOIN (${HELD_PER_NODE}) h ON h.node_id = n.id
          WHERE n.state = 'active' AND ${model('n')}
          GROUP BY n.gpu_model, n.region
       )
       SELECT COALESCE(l."gpuModel", s.gpu_model) AS "gpuModel", COALESCE(l.region, s.region) AS region,
              l.price, l."roundId", l."periodStart", l."marginalBidId", l."marginalBidPrice",
              COALESCE(s.supply, 0) AS "supplyGpus", COALESCE(s.free, 0) AS "freeGpus", s.floor AS "reserveFloor"
         FROM latest l FULL JOIN supply s ON s.gpu_model = l."gpuModel" AND s.region = l.region
        ORDER BY 1, 2`,
      params,
    );
  }

  /** Newest first; `after` is the (created_at as text, id) of the last lease of the previous page. */
  async leasesPage(
    scope: ReadScope,
    options: { state?: string; needsAttention?: boolean; limit: number; after?: { time: string; id: string } },
  ): Promise<LeaseRow[]> {
    const params: unknown[] = [];
    let where = scopeFilter(
      scope,
      params,
      'l.tenant_id',
      (p) => `EXISTS (SELECT 1 FROM lease_nodes x WHERE x.lease_id = l.id AND x.provider_id = ${p})`,
    );
    if (options.state) where += ` AND l.state = $${params.push(options.state)}`;
    if (options.needsAttention !== undefined)
      where += options.needsAttention ? ` AND ${STOP_UNCONFIRMED}` : ` AND NOT ${STOP_UNCONFIRMED}`;
    if (options.after)
      where += ` AND (l.created_at, l.id) < ($${params.push(options.after.time)}::timestamptz, $${params.push(options.after.id)}::uuid)`;
    return this.dataSource.query(
      `${LEASE_SELECT} WHERE ${where} ORDER BY l.created_at DESC, l.id DESC LIMIT $${params.push(options.limit)}`,
      params,
    );
  }

  async lease(scope: ReadScope, id: string): Promise<LeaseRow | null> {
    const params: unknown[] = [id];
    const where = scopeFilter(
      scope,
      params,
      'l.tenant_id',
      (p) => `EXISTS (SELECT 1 FROM lease_nodes x WHERE x.lease_id = l.id AND x.provider_id = ${p})`,
    );
    const rows: LeaseRow[] = await this.dataSource.query(`${LEASE_SELECT} WHERE l.id = $1 AND ${where}`, params);
    return rows[0] ?? null;
  }

  /**
   * Entries whose interval ends in [from, to), newest first, and totals over all of them: the
   * reports' convention (reports.repository.ts), so an entry ending on a boundary lands on the
   * same side of it in both.
   */
  async ledger(
    scope: ReadScope,
    range: { from?: Date; to?: Date },
    limit: number,
  ): Promise<{ entries: LedgerRow[]; totals: LedgerTotalsRow }> {
    const params: unknown[] = [];
    let where = scopeFilter(scope, params, 'e.tenant_id', (p) => `e.provider_id = ${p}`);
    if (range.from) where += ` AND e.period_end >= $${params.push(range.from)}`;
    if (range.to) where += ` AND e.period_end < $${params.push(range.to)}`;
    const [totals]: LedgerTotalsRow[] = await this.dataSource.query(
      `SELECT COALESCE(sum(e.charge), 0)::text AS charges, COALESCE(sum(e.uplift), 0)::text AS uplift, COALESCE(sum(e.fee), 0)::text AS fees,
              COALESCE(sum(e.payout), 0)::text AS payouts, count(*)::int AS count
         FROM ledger_entries e WHERE ${where}`,
      params,
    );
    const entries: LedgerRow[] = await this.dataSource.query(
      `SELECT e.id::text AS id, e.round_id AS "roundId", e.lease_id AS "leaseId", e.bid_id AS "bidId", e.tenant_id AS "tenantId",
              e.provider_id AS "providerId", e.node_id AS "nodeId", e.gpu_model AS "gpuModel", e.region,
              e.period_start AS "periodStart", e.period_end AS "periodEnd", e.seconds, e.gpus, e.unit_price::text AS "unitPrice",
              e.node_price::text AS "nodePrice", e.charge::text AS charge, e.uplift::text AS uplift, e.fee::text AS fee, e.payout::text AS payout
         FROM ledger_entries e WHERE ${where} ORDER BY e.period_end DESC, e.id DESC LIMIT $${params.push(limit)}`,
      params,
    );
    return { entries, totals };
  }
}
