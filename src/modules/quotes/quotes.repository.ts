import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { STOP_UNCONFIRMED } from '../leases/held-gpus.js';

/** The latest committed round, and whether it priced any node (rounds before node prices did not). */
export interface LatestRoundRow {
  id: string;
  periodStart: Date;
  priced: boolean;
}

/** A node of a quoted model, in any state, with its price in the latest committed round (null: not priced there). */
export interface QuoteNodeRow {
  id: string;
  providerId: string;
  gpuModel: string;
  memoryGb: number;
  gpus: number;
  region: string;
  block: string;
  nvlinkDomain: string;
  compliance: string[];
  reservePrice: string;
  state: string;
  price: string | null;
}

/** A lease that holds GPUs now, as the round's snapshot reads it. */
export interface LiveLeaseRow {
  id: string;
  state: 'allocated' | 'running' | 'preempting';
  preemptible: boolean;
  protectedUntil: Date | null;
  shares: Array<{ nodeId: string; gpus: number }>;
}

export interface HistoryRoundRow {
  id: string;
  periodStart: Date;
}

/** A node's price in a past round and the GPUs leases held there then. */
export interface PastNodePriceRow {
  roundId: string;
  nodeId: string;
  price: string;
  fixedGpus: number;
  leasedGpus: number;
}

/** What a quote reads: node prices, the nodes and leases behind them, and their recent history. */
@Injectable()
export class QuotesRepository {
  constructor(private readonly dataSource: DataSource) {}

  async latestRound(): Promise<LatestRoundRow | null> {
    const rows: LatestRoundRow[] = await this.dataSource.query(
      `SELECT r.id, r.period_start AS "periodStart", EXISTS (SELECT 1 FROM node_prices np WHERE np.round_id = r.id) AS priced
         FROM rounds r WHERE r.state = 'committed' ORDER BY r.period_start DESC LIMIT 1`,
    );
    return rows[0] ?? null;
  }

  /**
   * Every node of these models (leases of draining nodes still count in which leases a round sees), with its latest
   * price.
   */
  async nodes(models: readonly string[], roundId: string | null): Promise<QuoteNodeRow[]> {
    return this.dataSource.query(
      `SELECT n.id, n.provider_id AS "providerId", n.gpu_model AS "gpuModel", g.memory_gb AS "memoryGb", n.gpus, n.region, n.block,
              n.nvlink_domain AS "nvlinkDomain", n.compliance, n.reserve_price::text AS "reservePrice", n.state, np.price::text AS price
         FROM nodes n JOIN gpu_models g ON g.name = n.gpu_model
         LEFT JOIN node_prices np ON np.node_id = n.id AND np.round_id = $2
        WHERE n.gpu_model = ANY($1::text[])
        ORDER BY n.id`,
      [models, roundId],
    );
  }

  /** Live leases of these models, oldest first (the order in which a round hands GPUs over). */
  async liveLeases(models: readonly string[]): Promise<LiveLeaseRow[]> {
    return this.dataSource.query(
      `SELECT l.id, l.state, l.preemptible, l.protected_until AS "protectedUntil",
              json_agg(json_build_object('nodeId', ln.node_id, 'gpus', ln.gpus) ORDER BY ln.node_id) AS shares
         FROM leases l JOIN lease_nodes ln ON ln.lease_id = l.id
        WHERE l.state IN ('allocated', 'running', 'preempting') AND l.gpu_model = ANY($1::text[])
        GROUP BY l.id
        ORDER BY l.allocated_at, l.id`,
      [models],
    );
  }

  /** GPUs per node that a workload the market failed to stop may still hold. */
  async stuckGpus(nodeIds: readonly string[]): Promise<Map<string, number>> {
    const rows: Array<{ nodeId: string; gpus: number }> = await this.dataSource.query(
      `SELECT ln.node_id AS "nodeId", sum(ln.gpus)::int AS gpus FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
        WHERE ln.node_id = ANY($1::uuid[]) AND ${STOP_UNCONFIRMED} GROUP BY ln.node_id`,
      [nodeIds],
    );
    return new Map(rows.map((r) => [r.nodeId, r.gpus]));
  }

  /**
   * Committed rounds with node prices in the `hours` up to and including `until`, oldest first;
   * at most `max` of them, evenly spaced: counted back from the newest, the first round of each
   * of `max` equal runs.
   */
  async historyRounds(until: Date, hours: number, max: number): Promise<HistoryRoundRow[]> {
    return this.dataSource.query(
      `WITH recent AS (
         SELECT r.id, r.period_start, row_number() OVER (ORDER BY r.period_start DESC) - 1 AS k, count(*) OVER () AS n
           FROM rounds r
          WHERE r.state = 'committed' AND r.period_start <= $1 AND r.period_start > $1::timestamptz - make_interval(hours => $2)
            AND EXISTS (SELECT 1 FROM node_prices np WHERE np.round_id = r.id)
       )
       SELECT id, period_start AS "periodStart" FROM recent
        WHERE n <= $3 OR floor(k * $3::numeric / n) <> floor((k - 1) * $3::numeric / n)
        ORDER BY period_start`,
      [until, hours, max],
    );
  }

  /**
   * The prices of these nodes in these rounds, and the GPUs that leases held there at each
   * round: leases placed by an earlier round and not ended by then, fixed when not preemptible
   * or still protected. (Rebuilt from the leases: a round does not store its occupancy.)
   */
  async pastNodePrices(roundIds: readonly string[], nodeIds: readonly string[]): Promise<PastNodePriceRow[]> {
    if (roundIds.length === 0 || nodeIds.length === 0) return [];
    return this.dataSource.query(
      `SELECT np.round_id AS "roundId", np.node_id AS "nodeId", np.price::text AS price,
              COALESCE(held.fixed, 0)::int AS "fixedGpus", COALESCE(held.leased, 0)::int AS "leasedGpus"
         FROM node_prices np
         LEFT JOIN LATERAL (
           SELECT sum(ln.gpus) FILTER (WHERE NOT l.preemptible OR l.protected_until > np.period_start) AS fixed,
                  sum(ln.gpus) FILTER (WHERE l.preemptible AND (l.protected_until IS NULL OR l.protected_until <= np.period_start)) AS leased
             FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id JOIN rounds placed ON placed.id = l.round_id
            WHERE ln.node_id = np.node_id AND placed.period_start < np.period_start
              AND (l.ended_at IS NULL OR l.ended_at > np.period_start)
         ) held ON TRUE
        WHERE np.round_id = ANY($1::uuid[]) AND np.node_id = ANY($2::uuid[])
        ORDER BY np.period_start, np.node_id`,
      [roundIds, nodeIds],
    );
  }
}
