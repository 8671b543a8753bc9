import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import type { Contiguity, LossReason } from '../../core/market/types.js';
import { type BidStatus, FINISHED_BID_STATUSES, type WorkloadSpec } from './bid-status.js';

/** A bid as stored. Money stays a decimal string; times are Dates. */
export interface BidRow {
  readonly id: string;
  readonly tenantId: string;
  readonly status: BidStatus;
  readonly gpus: number;
  readonly offers: Array<{ gpuModel: string; maxPrice: string }>;
  readonly contiguity: Contiguity;
  readonly preemptible: boolean;
  readonly runtimeSeconds: number;
  readonly remainingSeconds: number;
  readonly notBefore: Date | null;
  readonly deadline: Date | null;
  readonly regions: string[];
  readonly compliance: string[];
  readonly minGpuMemoryGb: number;
  readonly workload: WorkloadSpec;
  readonly lastLossReason: LossReason | null;
  readonly idempotencyKey: string | null;
  readonly requestHash: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface BidLeaseRow {
  readonly id: string;
  readonly roundId: string;
  readonly state: string;
  readonly gpuModel: string;
  readonly gpus: number;
  readonly allocatedAt: Date;
  readonly startedAt: Date | null;
  readonly endedAt: Date | null;
  readonly endReason: string | null;
}

export type NewBid = Omit<BidRow, 'status' | 'remainingSeconds' | 'lastLossReason' | 'createdAt' | 'updatedAt'>;

const SELECT_BID = `
  SELECT b.id, b.tenant_id AS "tenantId", b.status, b.gpus,
         (SELECT json_agg(json_build_object('gpuModel', o.gpu_model, 'maxPrice', o.max_price::text) ORDER BY o.rank)
            FROM bid_offers o WHERE o.bid_id = b.id) AS offers,
         b.contiguity, b.preemptible, b.runtime_seconds AS "runtimeSeconds", b.remaining_seconds AS "remainingSeconds",
         b.not_before AS "notBefore", b.deadline, b.regions, b.compliance, b.min_gpu_memory_gb AS "minGpuMemoryGb",
         b.workload, b.last_loss_reason AS "lastLossReason", b.idempotency_key AS "idempotencyKey",
         b.request_hash AS "requestHash", b.created_at AS "createdAt", b.updated_at AS "updatedAt"
    FROM bids b`;

@Injectable()
export class BidsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Inserts the bid and its offers in ONE statement (so one round trip and atomic without an
   * explicit transaction). With an idempotency key already used by this tenant nothing is
   * written and null is returned; a concurrent insert with the same key waits on the unique
   * index until the first commits, so exactly one bid is ever created per key.
   */
  async insert(
    bid: NewBid,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<{ createdAt: Date; updatedAt: Date } | null> {
    const offers = JSON.stringify(
      bid.offers.map((o, rank) => ({ rank, gpu_model: o.gpuModel, max_price: o.maxPrice })),
    );
    const rows: Array<{ createdAt: Date; updatedAt: Date }> = await this.queryPrepared(
      manager,
      'gpumarket_insert_bid_v1',
      `WITH bid AS (
         INSERT INTO bids (id, tenant_id, gpus, contiguity, preemptible, runtime_seconds, remaining_seconds, not_before, deadline,
                           regions, compliance, min_gpu_memory_gb, workload, idempotency_key, request_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING id, created_at, updated_at
       ), offers AS (
         INSERT INTO bid_offers (bid_id, rank, gpu_model, max_price)
         SELECT bid.id, o.rank, o.gpu_model, o.max_price
           FROM bid, jsonb_to_recordset($15::jsonb) AS o(rank smallint, gpu_model text, max_price numeric)
       )
       SELECT created_at AS "createdAt", updated_at AS "updatedAt" FROM bid`,
      [
        bid.id,
        bid.tenantId,
        bid.gpus,
        bid.contiguity,
        bid.preemptible,
        bid.runtimeSeconds,
        bid.notBefore,
        bid.deadline,
        bid.regions,
        bid.compliance,
        bid.minGpuMemoryGb,
        JSON.stringify(bid.workload),
        bid.idempotencyKey,
        bid.requestHash,
        offers,
      ],
    );
    return rows[0] ?? null;
  }

  /**
   * Runs a named prepared statement: PostgreSQL parses and plans it once per connection instead
   * of on every call, which is most of its cost for the bid insert (the hottest statement).
   */
  private async queryPrepared<T>(manager: EntityManager, name: string, text: string, values: unknown[]): Promise<T[]> {
    const runner = manager.queryRunner ?? this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as {
        query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }>;
      };
      return (await client.query({ name, text, values })).rows;
    } finally {
      if (!manager.queryRunner) await runner.release();
    }
  }

  async findByIdempotencyKey(
    tenantId: string,
    key: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<BidRow | null> {
    const rows: BidRow[] = await manager.query(`${SELECT_BID} WHERE b.tenant_id = $1 AND b.idempotency_key = $2`, [
      tenantId,
      key,
    ]);
    return rows[0] ?? null;
  }

  async findOwn(
    tenantId: string,
    id: string,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<BidRow | null> {
    const rows: BidRow[] = await manager.query(`${SELECT_BID} WHERE b.id = $1 AND b.tenant_id = $2`, [id, tenantId]);
    return rows[0] ?? null;
  }

  /** The leases a bid has won, oldest first. */
  async leasesOf(bidId: string): Promise<BidLeaseRow[]> {
    return this.dataSource.query(
      `SELECT id, round_id AS "roundId", state, gpu_model AS "gpuModel", gpus, allocated_at AS "allocatedAt",
              started_at AS "startedAt", ended_at AS "endedAt", end_reason AS "endReason"
         FROM leases WHERE bid_id = $1 ORDER BY allocated_at, id`,
      [bidId],
    );
  }

  /** Newest first; `after` is the (createdAt, id) of the last row of the previous page. */
  async page(
    tenantId: string,
    options: { status?: BidStatus; limit: number; after?: { createdAt: Date; id: string } },
  ): Promise<BidRow[]> {
    const params: unknown[] = [tenantId];
    let where = 'b.tenant_id = $1';
    if (options.status) where += ` AND b.status = $${params.push(options.status)}`;
    if (options.after) {
      where += ` AND (b.created_at, b.id) < ($${params.push(options.after.createdAt)}::timestamptz, $${params.push(options.after.id)}::uuid)`;
    }
    return this.dataSource.query(
      `${SELECT_BID} WHERE ${where} ORDER BY b.created_at DESC, b.id DESC LIMIT $${params.push(options.limit)}`,
      params,
    );
  }

  /** Marks the tenant's bid cancelled unless it is already finished; null when nothing changed. */
  async cancel(tenantId: string, id: string, manager: EntityManager = this.dataSource.manager): Promise<BidRow | null> {
    const [rows]: [Array<{ id: string }>, number] = await manager.query(
      `UPDATE bids SET status = 'cancelled', updated_at = now()
        WHERE id = $1 AND tenant_id = $2 AND status <> ALL($3::text[]) RETURNING id`,
      [id, tenantId, FINISHED_BID_STATUSES],
    );
    return rows.length === 0 ? null : this.findOwn(tenantId, id, manager);
  }
}
