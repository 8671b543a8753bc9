import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { checkWindow } from '../../core/market/bid-window.js';
import { blockedGpus } from '../../core/market/node-health.js';
import { leasesSeenByRound } from '../../core/market/round-leases.js';
import type { BidTerms, LiveLease } from '../../core/market/round-outcome.js';
import type { Contiguity, MarketNode, OpenBid, RunningLease } from '../../core/market/types.js';
import { toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { STOP_UNCONFIRMED } from '../leases/held-gpus.js';

interface NodeRow {
  id: string;
  provider_id: string;
  gpu_model: string;
  memory_gb: number;
  gpus: number;
  region: string;
  block: string;
  nvlink_domain: string;
  compliance: string[];
  reserve_price: string;
  state: string;
  /** Fenced, or silent for HEARTBEAT_UNREACHABLE_SECONDS and about to be. */
  unreachable: boolean;
  /** GPUs its agent reported unusable (ECC, Xid, MIG, vanished). */
  unusable: number;
}

interface LeaseRow {
  id: string;
  bid_id: string;
  gpu_model: string;
  limit_price: string;
  preemptible: boolean;
  state: LiveLease['state'];
  protected_until: Date | null;
  notice_ends_at: Date | null;
  shares: Array<{ node_id: string; gpus: number }>;
}

interface BidRow {
  id: string;
  gpus: number;
  contiguity: Contiguity;
  preemptible: boolean;
  remaining_seconds: number;
  not_before: Date | null;
  deadline: Date | null;
  regions: string[];
  compliance: string[];
  min_gpu_memory_gb: number;
  offers: Array<{ gpu_model: string; max_price: string }>;
}

export interface MarketState {
  readonly nodes: MarketNode[];
  /** Live leases the round may keep or displace, in snapshot form. */
  readonly snapshotLeases: RunningLease[];
  readonly liveLeases: LiveLease[];
  readonly bids: OpenBid[];
  readonly bidTerms: Map<string, BidTerms>;
  /** Open bids whose window can no longer fit their remaining run time. */
  readonly expiredBidIds: string[];
}

const toSeconds = (date: Date | null): number | null => (date ? Math.floor(date.getTime() / 1000) : null);

/**
 * Reads the market as one round sees it. Which leases the round sees is the core's rule
 * (round-leases.ts, shared with the simulator): leases in their notice period are offered only
 * where their GPUs have not been handed to a newer lease, so the snapshot never holds two leases
 * on one GPU.
 */
@Injectable()
export class MarketSnapshotRepository {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async load(manager: EntityManager, now: Date): Promise<MarketState> {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    // A node silent past the limit takes nothing new even before the fencing sweep reaches it.
    const nodeRows: NodeRow[] = await manager.query(
      `SELECT n.id, n.provider_id, n.gpu_model, g.memory_gb, n.gpus, n.region, n.block, n.nvlink_domain,
              n.compliance, n.reserve_price::text AS reserve_price, n.state,
              (n.unreachable_since IS NOT NULL OR n.last_heartbeat_at <= $1::timestamptz - make_interval(secs => $2::int)) IS TRUE AS unreachable,
              (SELECT count(DISTINCT (u ->> 'index'))::int FROM jsonb_array_elements(n.unavailable_gpus) u) AS unusable
         FROM nodes n JOIN gpu_models g ON g.name = n.gpu_model
        WHERE n.state = 'active'
           OR EXISTS (SELECT 1 FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
                       WHERE ln.node_id = n.id AND l.state IN ('allocated', 'running', 'preempting'))
        ORDER BY n.id`,
      [now, this.config.heartbeatUnreachableSeconds],
    );
    const leaseRows: LeaseRow[] = await manager.query(
      `SELECT l.id, l.bid_id, l.gpu_model, l.limit_price::text AS limit_price, l.preemptible, l.state, l.protected_until, l.notice_ends_at,
              json_agg(json_build_object('node_id', ln.node_id, 'gpus', ln.gpus) ORDER BY ln.node_id) AS shares
         FROM leases l JOIN lease_nodes ln ON ln.lease_id = l.id
        WHERE l.state IN ('allocated', 'running', 'preempting')
        GROUP BY l.id
        ORDER BY l.allocated_at, l.id`,
    );
    const bidRows: BidRow[] = await manager.query(
      `SELECT b.id, b.gpus, b.contiguity, b.preemptible, b.remaining_seconds, b.not_before, b.deadline, b.regions,
              b.compliance, b.min_gpu_memory_gb,
              json_agg(json_build_object('gpu_model', o.gpu_model, 'max_price', o.max_price::text) ORDER BY o.rank) AS offers
         FROM bids b JOIN bid_offers o ON o.bid_id = b.id
        WHERE b.status = 'open'
        GROUP BY b.id
        ORDER BY b.created_at, b.id`,
    );

    // GPUs a workload the market failed to stop may still hold: nothing new goes there.
    const stuckRows: Array<{ node_id: string; gpus: number }> = await manager.query(
      `SELECT ln.node_id, sum(ln.gpus)::int AS gpus FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
        WHERE ${STOP_UNCONFIRMED} GROUP BY ln.node_id`,
    );
    const stuck = new Map(stuckRows.map((r) => [r.node_id, r.gpus]));

    const nodeGpus = new Map(nodeRows.map((n) => [n.id, n.gpus]));
    const candidates = leaseRows.map((row) => ({
      row,
      state: row.state,
      protectedUntil: null,
      shares: row.shares.map((s) => ({ nodeId: s.node_id, gpus: s.gpus })),
    }));
    const used = new Map<string, number>();
    const liveLeases: LiveLease[] = [];
    const snapshotLeases: RunningLease[] = [];
    for (const { lease } of leasesSeenByRound(candidates, nodeGpus, stuck)) {
      const { row, shares } = lease;
      for (const s of shares) used.set(s.nodeId, (used.get(s.nodeId) ?? 0) + s.gpus);
      const limitPrice = toMoney(row.limit_price);
      liveLeases.push({
        id: row.id,
        state: row.state,
        limitPrice,
        noticeEndsAt: row.notice_ends_at ? Math.ceil(row.notice_ends_at.getTime() / 1000) : null,
        shares,
      });
      snapshotLeases.push({
        id: row.id,
        bidId: row.bid_id,
        gpuModel: row.gpu_model,
        value: limitPrice,
        preemptible: row.preemptible,
        // A lease in its notice is no longer protected: it may win its place back or stay displaced.
        protectedUntil: row.state === 'preempting' || !row.protected_until ? null : row.protected_until.toISOString(),
        placement: row.shares.map((s) => ({ node: s.node_id, gpus: s.gpus })),
      });
    }

    const nodes: MarketNode[] = nodeRows.map((row) => ({
      id: row.id,
      provider: row.provider_id,
      gpuModel: row.gpu_model,
      gpuMemoryGb: row.memory_gb,
      gpus: row.gpus,
      // Draining, down and unreachable nodes keep their leases (until fenced) but take nothing
      // new; an active node takes nothing new on GPUs its agent reported unusable or held by a
      // workload the market failed to stop.
      unavailableGpus: blockedGpus({
        gpus: row.gpus,
        usedByLeases: used.get(row.id) ?? 0,
        sellable: row.state === 'active' && !row.unreachable,
        stuck: stuck.get(row.id) ?? 0,
        unusable: row.unusable,
      }),
      region: row.region,
      block: row.block,
      nvlinkDomain: row.nvlink_domain,
      compliance: row.compliance,
      reservePrice: toMoney(row.reserve_price),
    }));

    const bids: OpenBid[] = [];
    const bidTerms = new Map<string, BidTerms>();
    const expiredBidIds: string[] = [];
    for (const row of bidRows) {
      const window =
        row.deadline !== null
          ? { notBefore: toSeconds(row.not_before) ?? 0, deadline: toSeconds(row.deadline)! }
          : null;
      const check = checkWindow(window, row.remaining_seconds, nowSeconds);
      if (!check.eligible) {
        if (check.reason === 'window_closed') expiredBidIds.push(row.id);
        continue;
      }
      if (row.not_before && row.not_before.getTime() > now.getTime()) continue;
      const offers = row.offers.map((o) => ({ gpuModel: o.gpu_model, maxPrice: toMoney(o.max_price) }));
      bids.push({
        id: row.id,
        gpus: row.gpus,
        contiguity: row.contiguity,
        preemptible: row.preemptible,
        offers,
        regions: row.regions,
        compliance: row.compliance,
        minGpuMemoryGb: row.min_gpu_memory_gb,
      });
      bidTerms.set(row.id, {
        id: row.id,
        preemptible: row.preemptible,
        remainingSeconds: row.remaining_seconds,
        offers,
      });
    }
    return { nodes, snapshotLeases, liveLeases, bids, bidTerms, expiredBidIds };
  }
}
