import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { LIVE_LEASE_STATES, type LeaseState } from '../../core/market/lease-lifecycle.js';
import type { CommitLease, CommitNode, LeaseChange } from '../../core/market/round-commit.js';
import type { NewLease, Repricing } from '../../core/market/round-outcome.js';
import type { LossReason } from '../../core/market/types.js';
import { STOP_UNCONFIRMED } from '../leases/held-gpus.js';

interface LeaseRow {
  id: string;
  bid_id: string;
  tenant_id: string;
  state: LeaseState;
  preemptible: boolean;
  runtime_seconds: number;
  allocated_at: Date;
  started_at: Date | null;
  protected_until: Date | null;
  notice_ends_at: Date | null;
  provider_ids: string[];
  shares: Array<{ node_id: string; gpus: number }>;
}

const LIVE = LIVE_LEASE_STATES.map((s) => `'${s}'`).join(', ');
const seconds = (date: Date | null) => (date === null ? null : date.getTime() / 1000);

/**
 * The rows a round's commit reads, under the locks that keep one GPU from going to two leases,
 * and the writes of its change set (src/core/market/round-commit.ts). Runs in the caller's
 * transaction, which holds the round-commit lock.
 */
@Injectable()
export class RoundCommitRepository {
  /** Of the bids whose window closed, those still open, locked. */
  async lockExpiringBids(manager: EntityManager, ids: readonly string[]): Promise<{ id: string; tenantId: string }[]> {
    if (ids.length === 0) return [];
    const rows: Array<{ id: string; tenant_id: string }> = await manager.query(
      `SELECT id, tenant_id FROM bids WHERE id = ANY($1::uuid[]) AND status = 'open' ORDER BY id FOR UPDATE`,
      [ids],
    );
    return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id }));
  }

  /** Leases that hold GPUs and are charged for them: those settled before the round reprices. */
  async chargedLeaseIds(manager: EntityManager): Promise<string[]> {
    const rows: Array<{ id: string }> = await manager.query(
      `SELECT id FROM leases WHERE state IN ('running', 'preempting')`,
    );
    return rows.map((r) => r.id);
  }

  /** The live leases among `ids`, locked, with their shares and providers. */
  async lockLiveLeases(manager: EntityManager, ids: readonly string[]): Promise<Map<string, CommitLease>> {
    if (ids.length === 0) return new Map();
    const rows: LeaseRow[] = await manager.query(
      `SELECT l.id, l.bid_id, l.tenant_id, l.state, l.preemptible, l.runtime_seconds, l.allocated_at, l.started_at,
              l.protected_until, l.notice_ends_at,
              ARRAY(SELECT DISTINCT provider_id FROM lease_nodes WHERE lease_id = l.id) AS provider_ids,
              (SELECT json_agg(json_build_object('node_id', ln.node_id, 'gpus', ln.gpus) ORDER BY ln.node_id)
                 FROM lease_nodes ln WHERE ln.lease_id = l.id) AS shares
         FROM leases l WHERE l.id = ANY($1::uuid[]) AND l.state IN (${LIVE}) ORDER BY l.id FOR UPDATE`,
      [ids],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        {
          lease: {
            id: row.id,
            bidId: row.bid_id,
            state: row.state,
            preemptible: row.preemptible,
            runtimeSeconds: row.runtime_seconds,
            allocatedAt: seconds(row.allocated_at)!,
            startedAt: seconds(row.started_at),
            protectedUntil: seconds(row.protected_until),
            noticeEndsAt: seconds(row.notice_ends_at),
            endedAt: null,
            endReason: null,
          },
          tenantId: row.tenant_id,
          shares: (row.shares ?? []).map((s) => ({ nodeId: s.node_id, gpus: s.gpus })),
          providers: row.provider_ids,
        },
      ]),
    );
  }

  /** GPUs per node held by allocated and running leases. */
  async usedGpus(manager: EntityManager): Promise<Map<string, number>> {
    const rows: Array<{ node_id: string; gpus: number }> = await manager.query(
      `SELECT ln.node_id, sum(ln.gpus)::int AS gpus FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
        WHERE l.state IN ('allocated', 'running') GROUP BY ln.node_id`,
    );
    return new Map(rows.map((r) => [r.node_id, r.gpus]));
  }

  /** The nodes, share-locked, with the GPUs left for leases and whether they take new ones. */
  async lockNodes(manager: EntityManager, nodeIds: readonly string[]): Promise<Map<string, CommitNode>> {
    // Capacity left for leases: GPUs a workload the market failed to stop may hold are not.
    const rows: Array<{ id: string; gpus: number; state: string }> = await manager.query(
      `SELECT n.id, n.gpus - COALESCE((SELECT sum(ln.gpus) FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
                                        WHERE ln.node_id = n.id AND ${STOP_UNCONFIRMED}), 0)::int AS gpus, n.state
         FROM nodes n WHERE n.id = ANY($1::uuid[]) FOR SHARE OF n`,
      [nodeIds],
    );
    return new Map(rows.map((r) => [r.id, { capacity: r.gpus, active: r.state === 'active' }]));
  }

  /** Of `ids`, the bids still open, locked, with their tenant. */
  async lockOpenBids(manager: EntityManager, ids: readonly string[]): Promise<Map<string, string>> {
    const rows: Array<{ id: string; tenant_id: string }> = await manager.query(
      `SELECT id, tenant_id FROM bids WHERE id = ANY($1::uuid[]) AND status = 'open' ORDER BY id FOR UPDATE`,
      [ids],
    );
    return new Map(rows.map((b) => [b.id, b.tenant_id]));
  }

  /** The tenant of each bid (for the round's report to each tenant). */
  async bidOwners(manager: EntityManager, ids: readonly string[]): Promise<Map<string, string>> {
    const rows: Array<{ id: string; tenant_id: string }> = await manager.query(
      'SELECT id, tenant_id FROM bids WHERE id = ANY($1::uuid[])',
      [ids],
    );
    return new Map(rows.map((o) => [o.id, o.tenant_id]));
  }

  async expireBids(manager: EntityManager, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await manager.query(
      `UPDATE bids SET status = 'expired', last_loss_reason = 'window_closed', updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status = 'open'`,
      [ids],
    );
  }

  /** Notices and win-backs; the state guards hold already (the rows are locked) and stay as a net. */
  async writeTransitions(
    manager: EntityManager,
    notices: readonly LeaseChange[],
    winBacks: readonly LeaseChange[],
  ): Promise<void> {
    if (notices.length > 0)
      await manager.query(
        `UPDATE leases l SET state = 'preempting', notice_ends_at = v.ends, updated_at = now()
           FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, ends)
          WHERE l.id = v.id AND l.state = 'running'`,
        [notices.map((n) => n.leaseId), notices.map((n) => new Date(n.lease.noticeEndsAt! * 1000))],
      );
    if (winBacks.length > 0)
      await manager.query(
        `UPDATE leases SET state = 'running', notice_ends_at = NULL, updated_at = now()
          WHERE id = ANY($1::uuid[]) AND state = 'preempting'`,
        [winBacks.map((w) => w.leaseId)],
      );
  }

  /** New leases with their node shares; their bids become allocated. */
  async insertLeases(
    manager: EntityManager,
    roundId: string,
    now: Date,
    leases: readonly { proposal: NewLease; tenantId: string }[],
  ): Promise<void> {
    if (leases.length === 0) return;
    const news = leases.map((l) => l.proposal);
    await manager.query(
      `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, runtime_seconds, allocated_at, protected_until)
       SELECT v.id, v.bid, v.tenant, $1, v.model, v.gpus, v.limit_price, v.preemptible, v.runtime, $2, v.protected
         FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::int[], $8::numeric[], $9::boolean[], $10::int[], $11::timestamptz[])
           AS v(id, bid, tenant, model, gpus, limit_price, preemptible, runtime, protected)`,
      [
        roundId,
        now,
        news.map((l) => l.id),
        news.map((l) => l.bidId),
        leases.map((l) => l.tenantId),
        news.map((l) => l.gpuModel),
        news.map((l) => l.gpus),
        news.map((l) => l.limitPrice.toFixed()),
        news.map((l) => l.preemptible),
        news.map((l) => l.runtimeSeconds),
        news.map((l) => new Date(l.protectedUntil * 1000)),
      ],
    );
    const shares = news.flatMap((l) => l.shares.map((s) => ({ lease: l.id, ...s, price: l.price })));
    await manager.query(
      `INSERT INTO lease_nodes (lease_id, node_id, provider_id, region, gpus, unit_price, node_price, uplift)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::numeric[], $7::numeric[], $8::numeric[])`,
      [
        shares.map((s) => s.lease),
        shares.map((s) => s.nodeId),
        shares.map((s) => s.provider),
        shares.map((s) => s.region),
        shares.map((s) => s.gpus),
        shares.map((s) => s.price.unitPrice.toFixed()),
        shares.map((s) => s.nodePrice.toFixed()),
        shares.map((s) => s.price.uplift.toFixed()),
      ],
    );
    await manager.query(
      `UPDATE bids SET status = 'allocated', last_loss_reason = NULL, updated_at = now() WHERE id = ANY($1::uuid[])`,
      [news.map((l) => l.bidId)],
    );
  }

  /** Each live lease's node prices and unit price for the coming period; rows of dropped placements match nothing. */
  async reprice(manager: EntityManager, repricing: readonly Repricing[]): Promise<void> {
    const shares = repricing.flatMap((r) =>
      r.shares.map((share) => ({ lease: r.leaseId, share, unit: r.unitPrice, uplift: r.uplift })),
    );
    await manager.query(
      `UPDATE lease_nodes ln SET unit_price = v.unit, node_price = v.node_price, uplift = v.uplift
         FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::numeric[], $5::numeric[]) AS v(lease, node, unit, node_price, uplift)
        WHERE ln.lease_id = v.lease AND ln.node_id = v.node`,
      [
        shares.map((s) => s.lease),
        shares.map((s) => s.share.nodeId),
        shares.map((s) => s.unit.toFixed()),
        shares.map((s) => s.share.nodePrice.toFixed()),
        shares.map((s) => s.uplift.toFixed()),
      ],
    );
  }

  async recordLosses(
    manager: EntityManager,
    losses: readonly { readonly bidId: string; readonly reason: LossReason }[],
  ): Promise<void> {
    await manager.query(
      // Only bids whose reason changed: most losers lose the same way round after round, and
      // rewriting thousands of unchanged rows every minute is most of a big round's commit.
      `UPDATE bids b SET last_loss_reason = v.reason, updated_at = now() FROM unnest($1::uuid[], $2::text[]) AS v(id, reason)
        WHERE b.id = v.id AND b.status = 'open' AND b.last_loss_reason IS DISTINCT FROM v.reason`,
      [losses.map((l) => l.bidId), losses.map((l) => l.reason)],
    );
  }
}
