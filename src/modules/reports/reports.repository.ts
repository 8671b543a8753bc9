import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * The finance reports' SQL. Every sum is over numeric columns and comes back as text, so no
 * figure passes through a binary float; the service derives averages and ratios exactly.
 * Buckets come from date_bin against the Unix epoch in UTC, the same boundaries as
 * core/finance/report-range.ts. Ranges are half-open: rounds by period_start, ledger entries by
 * the end of the interval they charge (period_end), in [from, to).
 */
export interface PoolFilter {
  readonly gpuModel?: string;
  readonly region?: string;
}

export interface PriceBucketRow {
  gpuModel: string;
  region: string;
  bucketStart: Date;
  /** OHLC of the pool index. */
  open: string;
  high: string;
  low: string;
  close: string;
  /**
   * The node-price band over the bucket: lowest node price, median of the rounds' medians, highest. Null only where
   * no round has one.
   */
  bandMin: string | null;
  bandMedian: string | null;
  bandMax: string | null;
  /** sum(charge VWAP x paid GPUs) over the bucket's rounds that had paid GPUs. */
  chargeVolume: string | null;
  paidGpus: string | null;
  soldGpus: string;
  supplyGpus: string;
  rounds: number;
  closeRoundId: string;
  marginalBidId: string | null;
  marginalLimit: string | null;
}

export interface LedgerSumRow {
  gpuSeconds: string;
  charges: string;
  uplift: string;
  payouts: string;
  fees: string;
  entries: number;
}

export type RevenueGroup = 'provider' | 'tenant' | 'pool' | 'day';
export type RevenueRow = LedgerSumRow & {
  providerId?: string;
  providerName?: string;
  tenantId?: string;
  tenantName?: string;
  gpuModel?: string;
  region?: string;
  day?: Date;
};
export type TenantChargeRow = LedgerSumRow & { tenantId: string; tenantName: string; gpuModel: string; region: string };
export type RoundBreakRow = LedgerSumRow & { roundId: string | null; seq: string | null };

export interface AuditPriceRow {
  gpuModel: string;
  region: string;
  marginalBidId: string | null;
  marginalTenantId: string | null;
  marginalLimit: string | null;
  marginalKind: 'bid' | 'lease' | null;
}

export interface AuditWinnerRow {
  leaseId: string;
  bidId: string;
  tenantId: string;
  gpuModel: string;
  gpus: number;
  limitPrice: string;
  preemptible: boolean;
  state: string;
  /** What the round priced the placement at (its `round.cleared` event); null for rounds before node prices. */
  roundUnitPrice: string | null;
  roundUplift: string | null;
  /** roundNodePrice: the node's price in this round (null once node prices are past retention). */
  nodes: Array<{
    nodeId: string;
    providerId: string;
    region: string;
    gpus: number;
    unitPrice: string;
    nodePrice: string;
    uplift: string;
    roundNodePrice: string | null;
  }>;
}

export interface ParadoxRow {
  reason: string;
  gpuModel: string;
  cheapestPrice: string;
}

export interface AuditLoserRow {
  bidId: string;
  tenantId: string;
  reason: string;
  paradox: ParadoxRow | null;
  gpus: number;
  contiguity: string;
  regions: string[];
  offers: Array<{ gpuModel: string; maxPrice: string }>;
}

/** Which node prices a caller asks for; `providerId` is also how a provider key is scoped to its own nodes. */
export interface NodePriceFilter {
  readonly providerId?: string;
  readonly nodeId?: string;
  readonly gpuModel?: string;
  readonly region?: string;
}

/** One pool's index now and a day before, and how often its preemptible GPUs were preempted in a range. */
export interface PoolSummaryRow {
  gpuModel: string;
  region: string;
  /** The latest committed round before `to` that priced the pool. */
  roundId: string | null;
  periodStart: Date | null;
  price: string | null;
  bandMin: string | null;
  bandMedian: string | null;
  bandMax: string | null;
  /** The index in force 24 hours before that: the latest committed round before `to` - 24 h. */
  dayAgoRoundId: string | null;
  dayAgoPeriodStart: Date | null;
  dayAgoPrice: string | null;
  /** Ledger GPU-seconds in [from, to): all, and those of preemptible leases. */
  gpuSeconds: string;
  preemptibleGpuSeconds: string;
  /** Preemption notices given in [from, to) to leases on the pool. */
  preemptions: number;
}

/** Names behind the ids a round audit shows. */
export interface NameRow {
  kind: 'tenant' | 'provider' | 'node';
  id: string;
  name: string;
}

export interface NodePriceRow {
  roundId: string;
  periodStart: Date;
  /** period_start as the database wrote it (microseconds kept), for the page cursor. */
  cursorTime: string;
  nodeId: string;
  externalId: string;
  providerId: string;
  gpuModel: string;
  region: string;
  reservePrice: string;
  price: string;
}

const EPOCH = `TIMESTAMPTZ '1970-01-01 00:00:00+00'`;
const LEDGER_SUMS = `
  COALESCE(sum(e.seconds::bigint * e.gpus), 0)::text AS "gpuSeconds", COALESCE(sum(e.charge), 0)::text AS charges,
  COALESCE(sum(e.uplift), 0)::text AS uplift, COALESCE(sum(e.payout), 0)::text AS payouts, COALESCE(sum(e.fee), 0)::text AS fees,
  count(e.id)::int AS entries`;

function poolWhere(filter: PoolFilter, params: unknown[], alias = 'pp'): string {
  let where = '';
  if (filter.gpuModel !== undefined) where += ` AND ${alias}.gpu_model = $${params.push(filter.gpuModel)}`;
  if (filter.region !== undefined) where += ` AND ${alias}.region = $${params.push(filter.region)}`;
  return where;
}

@Injectable()
export class ReportsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Committed pool prices per pool and bucket: OHLC, volume, supply, and the bid behind the close. */
  async priceBuckets(from: Date, to: Date, bucketSeconds: number, filter: PoolFilter): Promise<PriceBucketRow[]> {
    const params: unknown[] = [from, to, bucketSeconds];
    return this.dataSource.query(
      `WITH points AS (
         SELECT pp.*, date_bin(make_interval(secs => $3), pp.period_start, ${EPOCH}) AS bucket
           FROM pool_prices pp JOIN rounds r ON r.id = pp.round_id AND r.state = 'committed'
          WHERE pp.period_start >= $1 AND pp.period_start < $2 ${poolWhere(filter, params)}
       ), buckets AS (
         SELECT gpu_model, region, bucket,
                (array_agg(price ORDER BY period_start))[1] AS open, max(price) AS high, min(price) AS low,
                (array_agg(price ORDER BY period_start DESC))[1] AS close,
                min(min_node_price) AS band_min, percentile_disc(0.5) WITHIN GROUP (ORDER BY median_node_price) AS band_median,
                max(max_node_price) AS band_max,
                sum(charge_vwap * paid_gpus) FILTER (WHERE charge_vwap IS NOT NULL AND paid_gpus > 0) AS charge_volume,
                sum(paid_gpus) FILTER (WHERE charge_vwap IS NOT NULL AND paid_gpus > 0) AS paid,
                sum(sold_gpus) AS sold, sum(supply_gpus) AS supply, count(*)::int AS rounds,
                (array_agg(round_id ORDER BY period_start DESC))[1] AS close_round,
                (array_agg(marginal_bid_id ORDER BY period_start DESC))[1] AS marginal
           FROM points GROUP BY gpu_model, region, bucket
       )
       SELECT b.gpu_model AS "gpuModel", b.region, b.bucket AS "bucketStart", b.open::text AS open, b.high::text AS high,
              b.low::text AS low, b.close::text AS close, b.band_min::text AS "bandMin", b.band_median::text AS "bandMedian",
              b.band_max::text AS "bandMax", b.charge_volume::text AS "chargeVolume", b.paid::text AS "paidGpus", b.sold::text AS "soldGpus",
              b.supply::text AS "supplyGpus", b.rounds, b.close_round AS "closeRoundId", b.marginal AS "marginalBidId",
              COALESCE(bo.max_price, l.limit_price)::text AS "marginalLimit"
         FROM buckets b
         LEFT JOIN bid_offers bo ON bo.bid_id = b.marginal AND bo.gpu_model = b.gpu_model
         LEFT JOIN leases l ON l.id = b.marginal
        ORDER BY b.gpu_model, b.region, b.bucket`,
      params,
    );
  }

  async revenue(from: Date, to: Date, groupBy: RevenueGroup, filter: PoolFilter = {}): Promise<RevenueRow[]> {
    const groups: Record<RevenueGroup, { select: string; join: string; group: string }> = {
      provider: {
        select: `e.provider_id AS "providerId", p.name AS "providerName"`,
        join: 'JOIN providers p ON p.id = e.provider_id',
        group: 'e.provider_id, p.name ORDER BY p.name, e.provider_id',
      },
      tenant: {
        select: `e.tenant_id AS "tenantId", t.name AS "tenantName"`,
        join: 'JOIN tenants t ON t.id = e.tenant_id',
        group: 'e.tenant_id, t.name ORDER BY t.name, e.tenant_id',
      },
      pool: {
        select: `e.gpu_model AS "gpuModel", e.region`,
        join: '',
        group: 'e.gpu_model, e.region ORDER BY e.gpu_model, e.region',
      },
      day: { select: `date_bin(INTERVAL '1 day', e.period_end, ${EPOCH}) AS day`, join: '', group: '1 ORDER BY 1' },
    };
    const g = groups[groupBy];
    const params: unknown[] = [from, to];
    return this.dataSource.query(
      `SELECT ${g.select}, ${LEDGER_SUMS} FROM ledger_entries e ${g.join}
        WHERE e.period_end >= $1 AND e.period_end < $2 ${poolWhere(filter, params, 'e')} GROUP BY ${g.group}`,
      params,
    );
  }

  async tenantCharges(from: Date, to: Date): Promise<TenantChargeRow[]> {
    return this.dataSource.query(
      `SELECT e.tenant_id AS "tenantId", t.name AS "tenantName", e.gpu_model AS "gpuModel", e.region, ${LEDGER_SUMS}
         FROM ledger_entries e JOIN tenants t ON t.id = e.tenant_id
        WHERE e.period_end >= $1 AND e.period_end < $2
        GROUP BY e.tenant_id, t.name, e.gpu_model, e.region ORDER BY t.name, e.tenant_id, e.gpu_model, e.region`,
      [from, to],
    );
  }

  async ledgerTotals(from: Date, to: Date, filter: PoolFilter = {}): Promise<LedgerSumRow> {
    const params: unknown[] = [from, to];
    const [row] = await this.dataSource.query(
      `SELECT ${LEDGER_SUMS} FROM ledger_entries e WHERE e.period_end >= $1 AND e.period_end < $2 ${poolWhere(filter, params, 'e')}`,
      params,
    );
    return row;
  }

  /**
   * Every pool that was priced before `to` or traded in [from, to): its index and band in the
   * latest committed round before `to`, the index in force 24 hours earlier, its GPU-seconds
   * (all, and preemptible leases') and the preemption notices its leases got in the range. A
   * lease on nodes of two regions counts once in each.
   */
  async poolSummary(from: Date, to: Date, filter: PoolFilter): Promise<PoolSummaryRow[]> {
    const params: unknown[] = [from, to];
    const pools = poolWhere(filter, params, 'x');
    return this.dataSource.query(
      `WITH latest AS (
         SELECT DISTINCT ON (pp.gpu_model, pp.region) pp.gpu_model, pp.region, pp.round_id, pp.period_start, pp.price,
                pp.min_node_price, pp.median_node_price, pp.max_node_price
           FROM pool_prices pp JOIN rounds r ON r.id = pp.round_id AND r.state = 'committed'
          WHERE pp.period_start < $2
          ORDER BY pp.gpu_model, pp.region, pp.period_start DESC
       ), day_ago AS (
         SELECT DISTINCT ON (pp.gpu_model, pp.region) pp.gpu_model, pp.region, pp.round_id, pp.period_start, pp.price
           FROM pool_prices pp JOIN rounds r ON r.id = pp.round_id AND r.state = 'committed'
          WHERE pp.period_start < $2::timestamptz - INTERVAL '24 hours'
          ORDER BY pp.gpu_model, pp.region, pp.period_start DESC
       ), used AS (
         SELECT e.gpu_model, e.region, sum(e.seconds::bigint * e.gpus) AS gpu_seconds,
                COALESCE(sum(e.seconds::bigint * e.gpus) FILTER (WHERE l.preemptible), 0) AS preemptible_gpu_seconds
           FROM ledger_entries e JOIN leases l ON l.id = e.lease_id
          WHERE e.period_end >= $1 AND e.period_end < $2
          GROUP BY e.gpu_model, e.region
       ), preempted AS (
         SELECT l.gpu_model, ln.region, count(DISTINCT me.id)::int AS notices
           FROM market_events me JOIN leases l ON l.id = me.subject_id
           JOIN (SELECT DISTINCT lease_id, region FROM lease_nodes) ln ON ln.lease_id = l.id
          WHERE me.type = 'lease.preemption_notice' AND me.created_at >= $1 AND me.created_at < $2
          GROUP BY l.gpu_model, ln.region
       ), x AS (
         SELECT gpu_model, region FROM latest UNION SELECT gpu_model, region FROM used UNION SELECT gpu_model, region FROM preempted
       )
       SELECT x.gpu_model AS "gpuModel", x.region, latest.round_id AS "roundId", latest.period_start AS "periodStart", latest.price::text AS price,
              latest.min_node_price::text AS "bandMin", latest.median_node_price::text AS "bandMedian", latest.max_node_price::text AS "bandMax",
              day_ago.round_id AS "dayAgoRoundId", day_ago.period_start AS "dayAgoPeriodStart", day_ago.price::text AS "dayAgoPrice",
              COALESCE(used.gpu_seconds, 0)::text AS "gpuSeconds", COALESCE(used.preemptible_gpu_seconds, 0)::text AS "preemptibleGpuSeconds",
              COALESCE(preempted.notices, 0) AS preemptions
         FROM x
         LEFT JOIN latest USING (gpu_model, region)
         LEFT JOIN day_ago USING (gpu_model, region)
         LEFT JOIN used USING (gpu_model, region)
         LEFT JOIN preempted USING (gpu_model, region)
        WHERE true ${pools}
        ORDER BY x.gpu_model, x.region`,
      params,
    );
  }

  /** The names of the tenants, providers and nodes (their provider's own name for them) behind a set of ids. */
  async names(ids: { tenants: string[]; providers: string[]; nodes: string[] }): Promise<NameRow[]> {
    return this.dataSource.query(
      `SELECT 'tenant' AS kind, id::text AS id, name FROM tenants WHERE id = ANY($1::uuid[])
       UNION ALL SELECT 'provider', id::text, name FROM providers WHERE id = ANY($2::uuid[])
       UNION ALL SELECT 'node', id::text, external_id FROM nodes WHERE id = ANY($3::uuid[])`,
      [ids.tenants, ids.providers, ids.nodes],
    );
  }

  /** Sums per round whose entries do not balance (entries settled outside a round have no round). */
  async unbalancedRounds(from: Date, to: Date): Promise<RoundBreakRow[]> {
    return this.dataSource.query(
      `SELECT e.round_id AS "roundId", r.seq::text AS seq, ${LEDGER_SUMS}
         FROM ledger_entries e LEFT JOIN rounds r ON r.id = e.round_id
        WHERE e.period_end >= $1 AND e.period_end < $2
        GROUP BY e.round_id, r.seq HAVING sum(e.charge) + sum(e.uplift) <> sum(e.payout) + sum(e.fee)
        ORDER BY r.seq NULLS LAST`,
      [from, to],
    );
  }

  async auditPrices(roundId: string): Promise<AuditPriceRow[]> {
    return this.dataSource.query(
      `SELECT pp.gpu_model AS "gpuModel", pp.region, pp.marginal_bid_id AS "marginalBidId",
              COALESCE(b.tenant_id, l.tenant_id) AS "marginalTenantId", COALESCE(bo.max_price, l.limit_price)::text AS "marginalLimit",
              CASE WHEN l.id IS NOT NULL THEN 'lease' WHEN b.id IS NOT NULL THEN 'bid' END AS "marginalKind"
         FROM pool_prices pp
         LEFT JOIN bids b ON b.id = pp.marginal_bid_id
         LEFT JOIN bid_offers bo ON bo.bid_id = b.id AND bo.gpu_model = pp.gpu_model
         LEFT JOIN leases l ON l.id = pp.marginal_bid_id
        WHERE pp.round_id = $1`,
      [roundId],
    );
  }

  /**
   * The leases the round placed: what the round priced each at (its `round.cleared` event's
   * `won` entry), each node's price in the round (node_prices, until retention removes it) and
   * what the lease pays there now (lease_nodes, repriced every round).
   */
  async auditWinners(roundId: string): Promise<AuditWinnerRow[]> {
    return this.dataSource.query(
      `WITH won AS (
         SELECT DISTINCT ON (x->>'leaseId') x->>'leaseId' AS lease_id, x->>'unitPrice' AS unit_price, x->>'uplift' AS uplift
           FROM market_events me CROSS JOIN LATERAL jsonb_array_elements(me.data->'won') x
          WHERE me.type = 'round.cleared' AND me.subject_id = $1 AND x->>'leaseId' IS NOT NULL
          ORDER BY x->>'leaseId'
       )
       SELECT l.id AS "leaseId", l.bid_id AS "bidId", l.tenant_id AS "tenantId", l.gpu_model AS "gpuModel", l.gpus,
              l.limit_price::text AS "limitPrice", l.preemptible, l.state, won.unit_price AS "roundUnitPrice", won.uplift AS "roundUplift",
              (SELECT json_agg(json_build_object('nodeId', ln.node_id, 'providerId', ln.provider_id, 'region', ln.region, 'gpus', ln.gpus,
                                                 'unitPrice', ln.unit_price::text, 'nodePrice', ln.node_price::text, 'uplift', ln.uplift::text,
                                                 'roundNodePrice', np.price::text) ORDER BY ln.node_id)
                 FROM lease_nodes ln LEFT JOIN node_prices np ON np.round_id = l.round_id AND np.node_id = ln.node_id
                WHERE ln.lease_id = l.id) AS nodes
         FROM leases l LEFT JOIN won ON won.lease_id = l.id::text
        WHERE l.round_id = $1 ORDER BY l.gpu_model, l.id`,
      [roundId],
    );
  }

  /**
   * The bids that lost the round, with the reasons the round recorded in its `round.cleared`
   * events, and, for a bid the round's node prices could not keep out, why (`paradoxicallyRejected`).
   */
  async auditLosers(roundId: string): Promise<AuditLoserRow[]> {
    return this.dataSource.query(
      `WITH lost AS (
         SELECT DISTINCT ON ((x->>'bidId')::uuid) (x->>'bidId')::uuid AS bid_id, x->>'reason' AS reason, x->'paradoxicallyRejected' AS paradox
           FROM market_events me CROSS JOIN LATERAL jsonb_array_elements(me.data->'lost') x
          WHERE me.type = 'round.cleared' AND me.subject_id = $1
          ORDER BY (x->>'bidId')::uuid
       )
       SELECT b.id AS "bidId", b.tenant_id AS "tenantId", lost.reason, lost.paradox, b.gpus, b.contiguity, b.regions,
              (SELECT json_agg(json_build_object('gpuModel', o.gpu_model, 'maxPrice', o.max_price::text) ORDER BY o.rank)
                 FROM bid_offers o WHERE o.bid_id = b.id) AS offers
         FROM lost JOIN bids b ON b.id = lost.bid_id ORDER BY b.id`,
      [roundId],
    );
  }

  /**
   * One page of committed rounds' node prices, oldest first by (period start, node id): the
   * keyset `after` is the last row of the previous page. Rows past RETENTION_DAYS are gone.
   */
  async nodePrices(
    from: Date,
    to: Date,
    filter: NodePriceFilter,
    limit: number,
    after?: { time: string; id: string },
  ): Promise<NodePriceRow[]> {
    const params: unknown[] = [from, to];
    let where = '';
    if (filter.providerId !== undefined) where += ` AND np.provider_id = $${params.push(filter.providerId)}`;
    if (filter.nodeId !== undefined) where += ` AND np.node_id = $${params.push(filter.nodeId)}`;
    if (filter.gpuModel !== undefined) where += ` AND np.gpu_model = $${params.push(filter.gpuModel)}`;
    if (filter.region !== undefined) where += ` AND np.region = $${params.push(filter.region)}`;
    if (after)
      where += ` AND (np.period_start, np.node_id) > ($${params.push(after.time)}::timestamptz, $${params.push(after.id)}::uuid)`;
    return this.dataSource.query(
      `SELECT np.round_id AS "roundId", np.period_start AS "periodStart", np.period_start::text AS "cursorTime", np.node_id AS "nodeId",
              n.external_id AS "externalId", np.provider_id AS "providerId", np.gpu_model AS "gpuModel", np.region,
              np.reserve_price::text AS "reservePrice", np.price::text AS price
         FROM node_prices np
         JOIN rounds r ON r.id = np.round_id AND r.state = 'committed'
         JOIN nodes n ON n.id = np.node_id
        WHERE np.period_start >= $1 AND np.period_start < $2 ${where}
        ORDER BY np.period_start, np.node_id
        LIMIT $${params.push(limit)}`,
      params,
    );
  }
}
