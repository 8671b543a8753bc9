import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { commitRound } from '../../core/market/round-commit.js';
import type { RoundOutcome } from '../../core/market/round-outcome.js';
import { poolKey, type MarketNode, type RoundResult } from '../../core/market/types.js';
import { toMoney } from '../../core/money/money.js';
import { formatRate, toMicros } from '../../core/money/micros.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { MarketEventsRepository, type MarketEvent } from '../leases/market-events.repository.js';
import { OrdersRepository } from '../orders/orders.repository.js';
import { RoundCommitRepository } from './round-commit.repository.js';
import { RoundsRepository, type ClaimedRound } from './rounds.repository.js';

export interface CommitCounts {
  openBids: number;
  placements: number;
  preemptions: number;
  expired: number;
}

/**
 * Writes one round's decisions in the caller's transaction. The world may have moved while the
 * round cleared (a bid cancelled, a node drained, a lease completed), so the rows the decisions
 * name are loaded as they are now, under row locks, and the core's commit step
 * (src/core/market/round-commit.ts, the one the simulator applies too) re-checks every decision
 * against them: a placement whose bid is no longer open, whose node no longer takes work, or
 * that no longer fits is dropped, never forced. Together with the round lock this is what keeps
 * one GPU from going to two leases.
 */
@Injectable()
export class RoundCommitService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly rounds: RoundsRepository,
    private readonly store: RoundCommitRepository,
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
    const expiringBids = await this.store.lockExpiringBids(manager, input.expiredBidIds);
    // Settle the period that just ended at the prices that held during it, before repricing.
    await this.ledger.settle(
      manager,
      await this.store.chargedLeaseIds(manager),
      now,
      toMoney(this.config.marketFeePercent),
      round.id,
      { upToLastHeartbeat: true },
    );

    const leases = await this.store.lockLiveLeases(manager, [
      ...outcome.notices.map((n) => n.leaseId),
      ...outcome.winBacks,
    ]);
    const used = await this.store.usedGpus(manager);
    const nodes = await this.store.lockNodes(
      manager,
      input.nodes.map((n) => n.id),
    );
    const openBids = await this.store.lockOpenBids(
      manager,
      outcome.newLeases.map((l) => l.bidId),
    );
    const changes = commitRound({ leases, nodes, used, openBids, expiringBids }, outcome, now.getTime() / 1000, {
      preemptionNoticeSeconds: this.config.preemptionNoticeSeconds,
      minHoldSeconds: this.config.minHoldSeconds,
    });

    await this.store.expireBids(
      manager,
      changes.expiredBids.map((b) => b.id),
    );
    await this.store.writeTransitions(manager, changes.notices, changes.winBacks);
    await this.orders.withdrawPendingStops(
      manager,
      changes.winBacks.map((w) => w.leaseId),
    );
    await this.store.insertLeases(manager, round.id, now, changes.newLeases);
    await this.orders.create(
      manager,
      changes.orders.map((o) => ({
        leaseId: o.leaseId,
        providerId: o.providerId,
        type: o.type,
        graceSeconds: o.graceSeconds,
        notBefore: o.notBefore === undefined ? undefined : new Date(o.notBefore * 1000),
      })),
    );
    await this.store.reprice(manager, outcome.repricing);
    await this.store.recordLosses(manager, outcome.losses);

    const placed = changes.newLeases.map((l) => l.proposal);
    await this.rounds.savePrices(manager, round, result.prices, this.poolVolumes(input.nodes, changes.used));
    await this.rounds.saveNodePrices(manager, round, result.nodePrices, input.nodes);
    await this.events.add(manager, [
      ...changes.events,
      ...(await this.roundCleared(manager, round, placed, outcome.losses, result.paradoxicallyRejected)),
    ]);
    return {
      openBids: input.openBids,
      placements: placed.length,
      preemptions: changes.notices.length,
      expired: changes.expiredBids.length,
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
    const tenantOf = await this.store.bidOwners(manager, bidIds);
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

  private poolVolumes(nodes: readonly MarketNode[], used: ReadonlyMap<string, number>) {
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
