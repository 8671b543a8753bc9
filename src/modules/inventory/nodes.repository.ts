import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { UnavailableGpu } from '../../core/market/node-health.js';
import type { MarketNode } from '../../core/market/types.js';
import { toMoney } from '../../core/money/money.js';
import type { NodeState } from './node-state.js';

/** A node as stored, with its GPU memory from the catalogue. Money stays a decimal string. */
export interface NodeRow {
  readonly id: string;
  readonly providerId: string;
  readonly externalId: string;
  readonly gpuModel: string;
  readonly gpuMemoryGb: number;
  readonly gpus: number;
  readonly region: string;
  readonly block: string;
  readonly nvlinkDomain: string;
  readonly compliance: string[];
  readonly reservePrice: string;
  readonly state: NodeState;
  /** Null: no heartbeat or poll ever came (a fleet without an agent). */
  readonly lastHeartbeatAt: Date | null;
  /** Set while the node is fenced for silence; its next heartbeat clears it. */
  readonly unreachableSince: Date | null;
  readonly unavailableGpus: UnavailableGpu[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NodeUpsert {
  /** Used only when the node is new. */
  readonly newId: string;
  readonly externalId: string;
  readonly gpuModel: string;
  readonly gpus: number;
  readonly region: string;
  readonly block: string;
  /** Null: the node is its own NVLink domain. */
  readonly nvlinkDomain: string | null;
  readonly compliance: readonly string[];
  readonly reservePrice: string;
}

const SELECT_NODE = `
  SELECT n.id, n.provider_id AS "providerId", n.external_id AS "externalId", n.gpu_model AS "gpuModel",
         m.memory_gb AS "gpuMemoryGb", n.gpus, n.region, n.block, n.nvlink_domain AS "nvlinkDomain",
         n.compliance, n.reserve_price::text AS "reservePrice", n.state,
         n.last_heartbeat_at AS "lastHeartbeatAt", n.unreachable_since AS "unreachableSince", n.unavailable_gpus AS "unavailableGpus",
         n.created_at AS "createdAt", n.updated_at AS "updatedAt"
    FROM nodes n JOIN gpu_models m ON m.name = n.gpu_model`;

@Injectable()
export class NodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts or updates the provider's nodes by externalId in one statement. The state of an
   * existing node is left alone (a re-registration does not revive a node marked down).
   */
  async upsert(
    providerId: string,
    nodes: readonly NodeUpsert[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<NodeRow[]> {
    const payload = JSON.stringify(
      nodes.map((n, ordinal) => ({
        ordinal,
        id: n.newId,
        external_id: n.externalId,
        gpu_model: n.gpuModel,
        gpus: n.gpus,
        region: n.region,
        block: n.block,
        nvlink_domain: n.nvlinkDomain,
        compliance: n.compliance,
        reserve_price: n.reservePrice,
      })),
    );
    const upserted: Array<{ id: string; external_id: string }> = await manager.query(
      `INSERT INTO nodes AS n (id, provider_id, external_id, gpu_model, gpus, region, block, nvlink_domain, compliance, reserve_price)
       SELECT x.id, $1, x.external_id, x.gpu_model, x.gpus, x.region, x.block, COALESCE(x.nvlink_domain, x.id::text),
              x.compliance, x.reserve_price
         FROM jsonb_to_recordset($2::jsonb) AS x(ordinal int, id uuid, external_id text, gpu_model text, gpus int, region text,
              block text, nvlink_domain text, compliance text[], reserve_price numeric)
        ORDER BY x.ordinal
       ON CONFLICT (provider_id, external_id) DO UPDATE SET
              gpu_model = EXCLUDED.gpu_model, gpus = EXCLUDED.gpus, region = EXCLUDED.region, block = EXCLUDED.block,
              nvlink_domain = CASE WHEN EXCLUDED.nvlink_domain = EXCLUDED.id::text THEN n.id::text ELSE EXCLUDED.nvlink_domain END,
              compliance = EXCLUDED.compliance, reserve_price = EXCLUDED.reserve_price, updated_at = now()
       RETURNING n.id, n.external_id`,
      [providerId, payload],
    );
    const ids = nodes.map((n) => upserted.find((u) => u.external_id === n.externalId)!.id);
    const rows = await this.find({ ids }, manager);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id)!);
  }

  async find(
    filter: { ids?: readonly string[]; providerId?: string | null },
    manager: EntityManager = this.dataSource.manager,
  ): Promise<NodeRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.ids) where.push(`n.id = ANY($${params.push(filter.ids)}::uuid[])`);
    if (filter.providerId) where.push(`n.provider_id = $${params.push(filter.providerId)}`);
    const sql = `${SELECT_NODE}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY n.provider_id, n.external_id`;
    return manager.query(sql, params);
  }

  /** Changes state and/or reserve price; null when the node does not exist (or is not the provider's). */
  async update(
    id: string,
    providerId: string | null,
    change: { state?: NodeState; reservePrice?: string },
    manager: EntityManager = this.dataSource.manager,
  ): Promise<NodeRow | null> {
    const params: unknown[] = [id, providerId, change.state ?? null, change.reservePrice ?? null];
    const [rows]: [Array<{ id: string }>, number] = await manager.query(
      `UPDATE nodes SET state = COALESCE($3, state), reserve_price = COALESCE($4::numeric, reserve_price), updated_at = now()
        WHERE id = $1 AND ($2::uuid IS NULL OR provider_id = $2) RETURNING id`,
      params,
    );
    if (rows.length === 0) return null;
    return (await this.find({ ids: [id] }, manager))[0] ?? null;
  }

  /** Largest GPU count of one node, and of one NVLink domain, among nodes of these models. */
  async largestGangs(gpuModels: readonly string[]): Promise<{ node: number | null; nvlink: number | null }> {
    const rows: Array<{ node: number | null; nvlink: number | null }> = await this.dataSource.query(
      `SELECT (SELECT max(gpus) FROM nodes WHERE gpu_model = ANY($1) AND state <> 'down') AS node,
              (SELECT max(total) FROM (SELECT sum(gpus)::int AS total FROM nodes WHERE gpu_model = ANY($1) AND state <> 'down'
                                        GROUP BY provider_id, nvlink_domain, gpu_model) d) AS nvlink`,
      [gpuModels],
    );
    return rows[0];
  }

  /**
   * Active nodes as the clearing core sees them. Blocks and NVLink domains are named by each
   * provider, so they are qualified with the provider id: two providers' "rack-1" are different racks.
   */
  async findActiveForRound(manager: EntityManager = this.dataSource.manager): Promise<MarketNode[]> {
    const rows: NodeRow[] = await manager.query(`${SELECT_NODE} WHERE n.state = 'active' ORDER BY n.id`);
    return rows.map((r) => ({
      id: r.id,
      provider: r.providerId,
      gpuModel: r.gpuModel,
      gpuMemoryGb: r.gpuMemoryGb,
      gpus: r.gpus,
      unavailableGpus: 0,
      region: r.region,
      block: `${r.providerId}/${r.block}`,
      nvlinkDomain: `${r.providerId}/${r.nvlinkDomain}`,
      compliance: r.compliance,
      reservePrice: toMoney(r.reservePrice),
    }));
  }
}
