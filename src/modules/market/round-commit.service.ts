import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { RoundOutcome } from '../../core/market/round-outcome.js';
import { poolKey, type MarketNode, type RoundResult } from '../../core/market/types.js';
import { toMoney } from '../../core/money/money.js';
import { formatRate, toMicros } from '../../core/money/micros.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { updateReturning } from '../../platform/database/update-returning.js';
import { STOP_UNCONFIRMED } from './held-gpus.js';
import { LeaseStateService } from './lease-state.service.js';
import { LedgerRepository } from './ledger.repository.js';
import { MarketEventsRepository, type MarketEvent } from './market-events.repository.js';
import { OrdersRepository } from './orders.repository.js';
import { RoundsRepository, type ClaimedRound } from './rounds.repository.js';

export interface CommitCounts {
  openBids: number;
  placements: number;
  preemptions: number;
  expired: number;
}

/**
 * Writes one round's decisions in the caller's transaction. The world may have moved while the
 * round cleared (a bid cancelled, a node drained, a lease completed), so every decision is
 * re-checked against the rows as they are now, under row locks: a placement whose bid is no
 * longer open, whose node no longer takes work, or that no longer fits is dropped, never
 * forced. Together with the round lock this is what keeps one GPU from going to two leases.
 */
@Injectable()
export class RoundCommitService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rounds: RoundsRepository,
    private readonly leaseState: LeaseStateService,
    private readonly ledger: LedgerRepository,
    private readonly orders: OrdersRepository,
    private readonly events: MarketEventsRepository,
  ) {}

  async commit(
    manager: EntityManager,
    round: ClaimedRound,
    now: Date,
    input: {
      result: RoundResult;
      outcome: RoundOutcome;
      nodes: readonly MarketNode[];
      expiredBidIds: readonly string[];
      openBids: number;
    },
  ): Promise<CommitCounts> {
    const { result, outcome } = input;
    const events: MarketEvent[] = [];

    const expired = await updateReturning<{ id: string; tenant_id: string }>(
      manager,
      `UPDATE bids SET status = 'expired', last_loss_reason = 'window_closed', updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status = 'open' RETURNING id, tenant_id`,
      [input.expiredBidIds],
    );
    for (const bid of expired)
      events.push({
        tenantId: bid.tenant_id,
        type: 'bid.expired',
        subjectId: bid.id,
        data: { bidId: bid.id, reason: 'window_closed' },
      });

    // Settle the period that just ended at the prices that held during it, before repricing.
    const running: Array<{ id: string }> = await manager.query(
      `SELECT id FROM leases WHERE state IN ('running', 'preempting')`,
    );
    await this.ledger.settle(
      manager,
      running.map((r) => r.id),
      now,
      toMoney(this.config.marketFeePercent),
      round.id,
      { upToLastHeartbeat: true },
    );

    const noticeEnds = new Map(outcome.notices.map((n) => [n.leaseId, n.noticeEndsAt]));
    const noticed = await updateReturning<{
      id: string;
      bid_id: string;
      tenant_id: string;
      notice_ends_at: Date;
      provider_ids: string[];
    }>(
      manager,
      `UPDATE leases l SET state = 'preempting', notice_ends_at = v.ends, updated_at = now()
         FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, ends)
        WHERE l.id = v.id AND l.state = 'running'
       RETURNING l.id, l.bid_id, l.tenant_id, l.notice_ends_at,
                 ARRAY(SELECT DISTINCT provider_id FROM lease_nodes WHERE lease_id = l.id) AS provider_ids`,
      [[...noticeEnds.keys()], [...noticeEnds.values()].map((s) => new Date(s * 1000))],
    );
    await this.leaseState.stopOrders(manager, noticed, 'preempt', this.config.preemptionNoticeSeconds);
    // The hard stop at the end of the notice, also if the adapter's own timer is lost.
    await this.leaseState.stopOrders(manager, noticed, 'terminate', 0, (l) => l.notice_ends_at);
    for (const lease of noticed)
      events.push({
        tenantId: lease.tenant_id,
        type: 'lease.preemption_notice',
        subjectId: lease.id,
        data: {
          leaseId: lease.id,
          bidId: lease.bid_id,
          stopAt: lease.notice_ends_at.toISOString(),
          noticeSeconds: this.config.preemptionNoticeSeconds,
        },
      });

    const used = await this.usedGpus(manager);
    const nodeState = await this.nodeStates(
      manager,
      input.nodes.map((n) => n.id),
    );
    const fits = (shares: ReadonlyArray<{ nodeId: string; gpus: number }>, needActive: boolean) =>
      shares.every((s) => {
        const node = nodeState.get(s.nodeId);
        return (
          node !== undefined &&
          (!needActive || node.state === 'active') &&
          (used.get(s.nodeId) ?? 0) + s.gpus <= node.gpus
        );
      });
    const take = (shares: ReadonlyArray<{ nodeId: string; gpus: number }>) => {
      for (const s of shares) used.set(s.nodeId, (used.get(s.nodeId) ?? 0) + s.gpus);
    };

    const sharesOf = new Map(outcome.repricing.map((r) => [r.leaseId, r.shares]));
    const wonBack: string[] = [];
    for (const leaseId of outcome.winBacks) {
      const shares = sharesOf.get(leaseId) ?? [];
      if (!fits(shares, false)) continue;
      const rows = await updateReturning<{ id: string; tenant_id: string; bid_id: string }>(
        manager,
        `UPDATE leases SET state = 'running', notice_ends_at = NULL, updated_at = now() WHERE id = $1 AND state = 'preempting' RETURNING id, tenant_id, bid_id`,
        [leaseId],
      );
      if (!rows[0]) continue;
      take(shares);
      wonBack.push(leaseId);
      events.push({
        tenantId: rows[0].tenant_id,
        type: 'lease.running',
        subjectId: leaseId,
        data: { leaseId, bidId: rows[0].bid_id, wonBack: true },
      });
    }
    await this.orders.withdrawPendingStops(manager, wonBack);

    const candidates = outcome.newLeases.map((l) => l.bidId);
    const openBids: Array<{ id: string; tenant_id: string }> = await manager.query(
      `SELECT id, tenant_id FROM bids WHERE id = ANY($1::uuid[]) AND status = 'open' ORDER BY id FOR UPDATE`,
      [candidates],
    );
    const tenantOf = new Map(openBids.map((b) => [b.id, b.tenant_id]));
    const placed = outcome.newLeases.filter((lease) => {
      if (!tenantOf.has(lease.bidId) || !fits(lease.shares, true)) return false;
      take(lease.shares);
      return true;
    });
    await this.insertLeases(manager, round, now, placed, tenantOf);
    for (const lease of placed) {
      const tenantId = tenantOf.get(lease.bidId)!;
      events.push({
        tenantId,
        type: 'bid.allocated',
        subjectId: lease.bidId,
        data: {
          bidId: lease.bidId,
          leaseId: lease.id,
          gpuModel: lease.gpuModel,
          gpus: lease.gpus,
          nodes: lease.shares.map((s) => ({ node: s.nodeId, gpus: s.gpus })),
          startAfter: new Date(lease.startAfter * 1000).toISOString(),
        },
      });
    }

    // Rows of dropped placements do not exist, so their repricing matches nothing.
    const live = outcome.repricing;
    const shares = live.flatMap((r) =>
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

    await manager.query(
      // Only bids whose reason changed: most losers lose the same way round after round, and
      // rewriting thousands of unchanged rows every minute is most of a big round's commit.
      `UPDATE bids b SET last_loss_reason = v.reason, updated_at = now() FROM unnest($1::uuid[], $2::text[]) AS v(id, reason)
        WHERE b.id = v.id AND b.status = 'open' AND b.last_loss_reason IS DISTINCT FROM v.reason`,
      [outcome.losses.map((l) => l.bidId), outcome.losses.map((l) => l.reason)],
    );

    await this.rounds.savePrices(manager, round, result.prices, this.poolVolumes(input.nodes, used));
    await this.rounds.saveNodePrices(manager, round, result.nodePrices, input.nodes);
    events.push(...(await this.roundCleared(manager, round, placed, outcome.losses, result.paradoxicallyRejected)));
    await this.events.add(manager, events);
    return {
      openBids: input.openBids,
      placements: placed.length,
      preemptions: noticed.length,
      expired: expired.length,
    };
  }

  /** `round.cleared` for every tenant with a bid in the round: its own outcome only. */
  private async roundCleared(
    manager: EntityManager,
    round: ClaimedRound,
    placed: RoundOutcome['newLeases'],
    losses: RoundOutcome['losses'],
    paradoxical: RoundResult['paradoxicallyRejected'],
  ): Promise<MarketEvent[]> {
    const bidIds = [...placed.map((l) => l.bidId), ...losses.map((l) => l.bidId)];
    if (bidIds.length === 0) return [];
    const owners: Array<{ id: string; tenant_id: string }> = await manager.query(
      'SELECT id, tenant_id FROM bids WHERE id = ANY($1::uuid[])',
      [bidIds],
    );
    const tenantOf = new Map(owners.map((o) => [o.id, o.tenant_id]));
    const byTenant = new Map<string, { won: unknown[]; lost: unknown[] }>();
    const entry = (tenantId: string) =>
      byTenant.get(tenantId) ?? byTenant.set(tenantId, { won: [], lost: [] }).get(tenantId)!;
    for (const lease of placed)
      entry(tenantOf.get(lease.bidId)!).won.push({
        bidId: lease.bidId,
        leaseId: lease.id,
        gpuModel: lease.gpuModel,
        gpus: lease.gpus,
        unitPrice: formatRate(toMicros(lease.price.unitPrice)),
        uplift: formatRate(toMicros(lease.price.uplift)),
      });
    // A bid the prices could not keep out says so: it could have had GPUs below its limit at this round's node prices.
    const paradox = new Map(paradoxical.map((p) => [p.bidId, p]));
    for (const loss of losses) {
      if (!tenantOf.has(loss.bidId)) continue;
      const p = paradox.get(loss.bidId);
      entry(tenantOf.get(loss.bidId)!).lost.push({
        bidId: loss.bidId,
        reason: loss.reason,
        ...(p
          ? {
              paradoxicallyRejected: {
                reason: p.reason,
                gpuModel: p.gpuModel,
                cheapestPrice: formatRate(toMicros(p.cheapestPrice)),
              },
            }
          : {}),
      });
    }
    return [...byTenant].map(([tenantId, outcome]) => ({
      tenantId,
      type: 'round.cleared' as const,
      subjectId: round.id,
      data: { roundId: round.id, seq: round.seq, periodStart: round.periodStart.toISOString(), ...outcome },
    }));
  }

  private async insertLeases(
    manager: EntityManager,
    round: ClaimedRound,
    now: Date,
    leases: RoundOutcome['newLeases'],
    tenantOf: Map<string, string>,
  ): Promise<void> {
    if (leases.length === 0) return;
    await manager.query(
      `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, runtime_seconds, allocated_at, protected_until)
       SELECT v.id, v.bid, v.tenant, $1, v.model, v.gpus, v.limit_price, v.preemptible, v.runtime, $2, v.protected
         FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::int[], $8::numeric[], $9::boolean[], $10::int[], $11::timestamptz[])
           AS v(id, bid, tenant, model, gpus, limit_price, preemptible, runtime, protected)`,
      [
        round.id,
        now,
        leases.map((l) => l.id),
        leases.map((l) => l.bidId),
        leases.map((l) => tenantOf.get(l.bidId)),
        leases.map((l) => l.gpuModel),
        leases.map((l) => l.gpus),
        leases.map((l) => l.limitPrice.toFixed()),
        leases.map((l) => l.preemptible),
        leases.map((l) => l.runtimeSeconds),
        leases.map((l) => new Date(l.protectedUntil * 1000)),
      ],
    );
    const shares = leases.flatMap((l) => l.shares.map((s) => ({ lease: l.id, ...s, price: l.price })));
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
      [leases.map((l) => l.bidId)],
    );
    await this.orders.create(
      manager,
      leases.flatMap((l) =>
        [...new Set(l.shares.map((s) => s.provider))].map((providerId) => ({
          leaseId: l.id,
          providerId,
          type: 'place' as const,
          notBefore: new Date(l.startAfter * 1000),
        })),
      ),
    );
  }

  private async usedGpus(manager: EntityManager): Promise<Map<string, number>> {
    const rows: Array<{ node_id: string; gpus: number }> = await manager.query(
      `SELECT ln.node_id, sum(ln.gpus)::int AS gpus FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
        WHERE l.state IN ('allocated', 'running') GROUP BY ln.node_id`,
    );
    return new Map(rows.map((r) => [r.node_id, r.gpus]));
  }

  private async nodeStates(
    manager: EntityManager,
    nodeIds: string[],
  ): Promise<Map<string, { gpus: number; state: string }>> {
    // Capacity left for leases: GPUs a workload the market failed to stop may hold are not.
    const rows: Array<{ id: string; gpus: number; state: string }> = await manager.query(
      `SELECT n.id, n.gpus - COALESCE((SELECT sum(ln.gpus) FROM lease_nodes ln JOIN leases l ON l.id = ln.lease_id
                                        WHERE ln.node_id = n.id AND ${STOP_UNCONFIRMED}), 0)::int AS gpus, n.state
         FROM nodes n WHERE n.id = ANY($1::uuid[]) FOR SHARE OF n`,
      [nodeIds],
    );
    return new Map(rows.map((r) => [r.id, { gpus: r.gpus, state: r.state }]));
  }

  private poolVolumes(nodes: readonly MarketNode[], used: Map<string, number>) {
    const pools = new Map<string, { gpuModel: string; region: string; supplyGpus: number; soldGpus: number }>();
    for (const node of nodes) {
      const key = poolKey(node.gpuModel, node.region);
      const pool = pools.get(key) ?? { gpuModel: node.gpuModel, region: node.region, supplyGpus: 0, soldGpus: 0 };
      pool.supplyGpus += node.gpus - node.unavailableGpus;
      pool.soldGpus += Math.min(node.gpus, used.get(node.id) ?? 0);
      pools.set(key, pool);
    }
    return [...pools.values()];
  }
}
