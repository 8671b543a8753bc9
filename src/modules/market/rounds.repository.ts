import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { MarketNode, NodePrice, PoolPrice, RoundResult } from '../../core/market/types.js';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';

/** Serialises the claims of scheduled slots across replicas, so gaps are recorded once. */
const SLOT_CLAIM_LOCK = 'gpumarket:round-slot-claim';

export interface ClaimedRound {
  readonly id: string;
  readonly seq: number;
  readonly periodStart: Date;
}

/** Consecutive slots of the schedule that got no round, and why. */
export interface MissedSlots {
  readonly firstSlot: Date;
  readonly lastSlot: Date;
  readonly slots: number;
  readonly periodSeconds: number;
  readonly reason: 'not_run' | 'late';
  readonly detectedAt: Date;
}

export interface SlotClaim {
  /** Null: the slot already has a round or a recorded miss, or it was recorded missed now. */
  readonly round: ClaimedRound | null;
  /** What this claim found missing and recorded (the slots before it, or this one if late). */
  readonly missed: readonly MissedSlots[];
}

export interface PoolVolume {
  readonly gpuModel: string;
  readonly region: string;
  readonly supplyGpus: number;
  readonly soldGpus: number;
}

@Injectable()
export class RoundsRepository {
  /**
   * Claims the round of a period. The period start is unique, so of several replicas asking
   * for the same period exactly one gets it. A claim whose process died mid-round is marked
   * abandoned by a later claim.
   */
  async claim(manager: EntityManager, periodStart: Date, staleAfterSeconds: number): Promise<ClaimedRound | null> {
    await manager.query(
      `UPDATE rounds SET state = 'abandoned' WHERE state = 'clearing' AND started_at < now() - make_interval(secs => $1)`,
      [staleAfterSeconds],
    );
    const rows: Array<{ id: string; seq: string }> = await manager.query(
      `INSERT INTO rounds (period_start) VALUES ($1) ON CONFLICT (period_start) DO NOTHING RETURNING id, seq`,
      [periodStart],
    );
    return rows[0] ? { id: rows[0].id, seq: Number(rows[0].seq), periodStart } : null;
  }

  /**
   * Claims the round of a scheduled slot (a multiple of the period), under a lock held to the
   * end of the transaction so that replicas claim one at a time. A slot that has a round or a
   * recorded miss is not claimed again. Slots between the last one accounted for and this one
   * got no round: they are recorded as missed (`not_run`). A slot whose job comes once the next
   * slot has begun is recorded as missed (`late`) rather than cleared a period late.
   */
  async claimSlot(
    manager: EntityManager,
    slot: Date,
    periodSeconds: number,
    now: Date,
    staleAfterSeconds: number,
  ): Promise<SlotClaim> {
    await manager.query(
      `UPDATE rounds SET state = 'abandoned' WHERE state = 'clearing' AND started_at < now() - make_interval(secs => $1)`,
      [staleAfterSeconds],
    );
    await advisoryXactLock(manager, SLOT_CLAIM_LOCK);
    const [state]: Array<{ taken: boolean; previous: Date | null }> = await manager.query(
      `SELECT EXISTS (SELECT 1 FROM rounds WHERE period_start = $1)
           OR EXISTS (SELECT 1 FROM missed_round_slots WHERE first_slot <= $1 AND last_slot >= $1) AS taken,
              GREATEST((SELECT max(period_start) FROM rounds WHERE period_start < $1),
                       (SELECT max(last_slot) FROM missed_round_slots WHERE last_slot < $1)) AS previous`,
      [slot],
    );
    if (state!.taken) return { round: null, missed: [] };
    const periodMs = periodSeconds * 1000;
    const missed: MissedSlots[] = [];
    if (state!.previous) {
      const unaccounted = Math.ceil((slot.getTime() - new Date(state!.previous).getTime()) / periodMs) - 1;
      if (unaccounted >= 1) {
        const gap = await this.recordMissed(
          manager,
          new Date(slot.getTime() - unaccounted * periodMs),
          unaccounted,
          periodSeconds,
          'not_run',
        );
        if (gap) missed.push(gap);
      }
    }
    if (now.getTime() >= slot.getTime() + periodMs) {
      const late = await this.recordMissed(manager, slot, 1, periodSeconds, 'late');
      return { round: null, missed: late ? [...missed, late] : missed };
    }
    const rows: Array<{ id: string; seq: string }> = await manager.query(
      `INSERT INTO rounds (period_start) VALUES ($1) ON CONFLICT (period_start) DO NOTHING RETURNING id, seq`,
      [slot],
    );
    return { round: rows[0] ? { id: rows[0].id, seq: Number(rows[0].seq), periodStart: slot } : null, missed };
  }

  private async recordMissed(
    manager: EntityManager,
    firstSlot: Date,
    slots: number,
    periodSeconds: number,
    reason: MissedSlots['reason'],
  ): Promise<MissedSlots | null> {
    const rows: Array<Record<string, unknown>> = await manager.query(
      `INSERT INTO missed_round_slots (first_slot, last_slot, slots, period_seconds, reason)
       VALUES ($1, $1::timestamptz + make_interval(secs => $2::double precision * ($3 - 1)), $3, $2, $4)
       ON CONFLICT (first_slot) DO NOTHING
       RETURNING first_slot, last_slot, slots, period_seconds, reason, detected_at`,
      [firstSlot, periodSeconds, slots, reason],
    );
    return rows[0] ? toMissedSlots(rows[0]) : null;
  }

  /** Recorded misses, newest first. */
  async listMissed(manager: EntityManager, limit: number, before?: Date): Promise<MissedSlots[]> {
    const rows: Array<Record<string, unknown>> = await manager.query(
      `SELECT first_slot, last_slot, slots, period_seconds, reason, detected_at FROM missed_round_slots
        WHERE ($2::timestamptz IS NULL OR first_slot < $2) ORDER BY first_slot DESC LIMIT $1`,
      [limit, before ?? null],
    );
    return rows.map(toMissedSlots);
  }

  /** Locks the round for its commit; false when it is no longer ours to commit. */
  async lockForCommit(manager: EntityManager, roundId: string): Promise<boolean> {
    const rows: Array<{ state: string }> = await manager.query('SELECT state FROM rounds WHERE id = $1 FOR UPDATE', [
      roundId,
    ]);
    return rows[0]?.state === 'clearing';
  }

  async abandon(manager: EntityManager, roundId: string): Promise<void> {
    await manager.query(`UPDATE rounds SET state = 'abandoned' WHERE id = $1 AND state = 'clearing'`, [roundId]);
  }

  async savePrices(
    manager: EntityManager,
    round: ClaimedRound,
    prices: readonly PoolPrice[],
    volumes: readonly PoolVolume[],
  ): Promise<void> {
    if (prices.length === 0) return;
    const volume = new Map(volumes.map((v) => [`${v.gpuModel}\u0000${v.region}`, v]));
    await manager.query(
      `INSERT INTO pool_prices (round_id, period_start, gpu_model, region, price, marginal_bid_id, supply_gpus, sold_gpus,
                                min_node_price, median_node_price, max_node_price, charge_vwap, paid_gpus)
       SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::numeric[], $6::uuid[], $7::int[], $8::int[],
                                    $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::int[])`,
      [
        round.id,
        round.periodStart,
        prices.map((p) => p.gpuModel),
        prices.map((p) => p.region),
        prices.map((p) => p.price.toFixed()),
        prices.map((p) => (p.marginalBidId && isUuid(p.marginalBidId) ? p.marginalBidId : null)),
        prices.map((p) => volume.get(`${p.gpuModel}\u0000${p.region}`)?.supplyGpus ?? 0),
        prices.map((p) => volume.get(`${p.gpuModel}\u0000${p.region}`)?.soldGpus ?? 0),
        prices.map((p) => p.minNodePrice.toFixed()),
        prices.map((p) => p.medianNodePrice.toFixed()),
        prices.map((p) => p.maxNodePrice.toFixed()),
        prices.map((p) => p.vwap?.toFixed() ?? null),
        prices.map((p) => p.soldGpus),
      ],
    );
  }

  /** Every priced node's price for the round, with what it was priced against (its reserve then). */
  async saveNodePrices(
    manager: EntityManager,
    round: ClaimedRound,
    prices: readonly NodePrice[],
    nodes: readonly MarketNode[],
  ): Promise<void> {
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const rows = prices.filter((p) => byId.has(p.node)).map((p) => ({ price: p, node: byId.get(p.node)! }));
    if (rows.length === 0) return;
    await manager.query(
      `INSERT INTO node_prices (round_id, period_start, node_id, provider_id, gpu_model, region, reserve_price, price)
       SELECT $1, $2, * FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::numeric[], $8::numeric[])`,
      [
        round.id,
        round.periodStart,
        rows.map((r) => r.node.id),
        rows.map((r) => r.node.provider),
        rows.map((r) => r.node.gpuModel),
        rows.map((r) => r.node.region),
        rows.map((r) => r.node.reservePrice.toFixed()),
        rows.map((r) => r.price.price.toFixed()),
      ],
    );
  }

  async markCommitted(
    manager: EntityManager,
    roundId: string,
    result: RoundResult,
    counts: { openBids: number; placements: number; preemptions: number; expired: number },
    timings: Record<string, number>,
  ): Promise<void> {
    await manager.query(
      `UPDATE rounds SET state = 'committed', committed_at = now(), solver = $2, solver_status = $3, welfare = $4,
              upper_bound = $5, open_bids = $6, placements = $7, preemptions = $8, expired = $9, timings = $10, stats = $11
        WHERE id = $1`,
      [
        roundId,
        result.stats.solver,
        result.status,
        result.welfare.toFixed(6),
        result.upperBound?.toFixed(6) ?? null,
        counts.openBids,
        counts.placements,
        counts.preemptions,
        counts.expired,
        JSON.stringify(timings),
        JSON.stringify({
          candidates: result.stats.candidates,
          solveMs: result.stats.solveMs,
          pricing: result.stats.pricing,
          paradoxicallyRejected: result.paradoxicallyRejected.length,
        }),
      ],
    );
  }

  async saveTiming(manager: EntityManager, roundId: string, phase: string, ms: number): Promise<void> {
    await manager.query(
      `UPDATE rounds SET timings = timings || jsonb_build_object($2::text, $3::numeric) WHERE id = $1`,
      [roundId, phase, ms],
    );
  }
}

function toMissedSlots(row: Record<string, unknown>): MissedSlots {
  return {
    firstSlot: new Date(row.first_slot as string),
    lastSlot: new Date(row.last_slot as string),
    slots: Number(row.slots),
    periodSeconds: Number(row.period_seconds),
    reason: row.reason as MissedSlots['reason'],
    detectedAt: new Date(row.detected_at as string),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isUuid(value: string): boolean {
  return UUID.test(value);
}
