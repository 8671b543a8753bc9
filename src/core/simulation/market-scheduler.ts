import type { ClearOptions } from '../clearing/clear-round.js';
import type { Money } from '../money/money.js';
import { poolKey, type OpenBid, type RoundResult, type RoundSnapshot, type RunningLease } from '../market/types.js';
import type { MarketParams } from './workload.js';
import { planRoundOutcome, type BidTerms, type LiveLease } from '../market/round-outcome.js';
import { leaseUnitPrice } from '../settlement/settle-lease.js';
import { solverFor, type SolverName } from '../solvers/solver-for.js';
import type {
  PlacementDecision,
  RoundDecision,
  RoundLeasePrice,
  RoundPricing,
  Scheduler,
  SchedulerView,
} from './scheduler.js';

export interface ClearOptionsLike {
  readonly timeLimitMs?: number;
  /** By name, as the simulation reports it; each round gets the backend it stands for (solverFor). */
  readonly solver?: SolverName;
  readonly seed?: number;
  readonly deterministic?: boolean;
}

/** The clearing core's entry point (src/core/clearing/clear-round.ts), passed in so this adapter owns no algorithm. */
export type ClearRound = (snapshot: RoundSnapshot, options: ClearOptions) => Promise<RoundResult>;

/**
 * The market baseline: each round is a real RoundSnapshot cleared by the real clearing core,
 * and the result becomes decisions through the market loop's own pure rule
 * (src/core/market/round-outcome.ts): new leases with their start time and protection,
 * preemption notices, leases that win their place back during a notice, and, for every lease
 * the round priced, its nodes' prices and its unit price and uplift for the coming period
 * (market.md section 5a).
 */
export class MarketScheduler implements Scheduler {
  readonly name = 'market';
  readonly charging = 'clearing' as const;
  readonly honoursDeadlines = true;
  private nodeIndex: Map<string, number> | null = null;
  readonly lossCounts = new Map<string, number>();
  readonly statusCounts = new Map<string, number>();
  /** Rounds the configured solver threw on; each was cleared again with the core's greedy mode. */
  readonly failures: { roundId: string; message: string; snapshot: RoundSnapshot }[] = [];
  /** Rounds whose clearing was cut short by its time limit: their result can differ from run to run. */
  readonly roundsAtTimeLimit: string[] = [];

  constructor(
    private readonly clear: ClearRound,
    private readonly params: MarketParams,
    private readonly options: ClearOptionsLike,
    private readonly epochMs: number,
  ) {}

  /**
   * A solver failure must not end a long replay, nor be hidden: the round is cleared again by
   * the same core in its greedy mode, and the snapshot is kept so it can be replayed with
   * `gpumarket clear` and fixed.
   */
  private async clearOrFallBack(snapshot: RoundSnapshot): Promise<RoundResult> {
    try {
      return await this.clearWith(snapshot, this.options.solver);
    } catch (error) {
      if (this.options.solver === 'greedy') throw error;
      this.failures.push({
        roundId: snapshot.roundId,
        message: error instanceof Error ? error.message : String(error),
        snapshot,
      });
      return this.clearWith(snapshot, 'greedy');
    }
  }

  private clearWith(snapshot: RoundSnapshot, solver: SolverName | undefined): Promise<RoundResult> {
    const { solver: _, ...options } = this.options;
    return this.clear(snapshot, { ...options, backend: solverFor(solver) });
  }

  private iso(t: number): string {
    return new Date(this.epochMs + t * 1000).toISOString();
  }

  async decide(view: SchedulerView): Promise<RoundDecision> {
    this.nodeIndex ??= new Map(view.nodes.map((n, i) => [n.id, i]));
    const leases: RunningLease[] = view.leases.map(({ record: rec, protectedUntil }) => ({
      id: rec.id,
      bidId: rec.job.id,
      gpuModel: rec.gpuModel,
      value: rec.limit,
      preemptible: rec.job.preemptible,
      protectedUntil: protectedUntil === null ? null : this.iso(protectedUntil),
      placement: rec.nodeShares.map((s) => ({ node: s.nodeId, gpus: s.gpus })),
    }));
    const byBid = new Map(view.open.map((o) => [o.job.id, o]));
    const bids: OpenBid[] = view.open.map(({ job }) => ({
      id: job.id,
      gpus: job.gpus,
      contiguity: job.contiguity,
      preemptible: job.preemptible,
      offers: job.offers,
      regions: job.regions,
      compliance: [],
      minGpuMemoryGb: 0,
    }));
    const snapshot: RoundSnapshot = {
      version: 1,
      roundId: `r-${String(view.roundIndex).padStart(6, '0')}`,
      now: view.nowIso,
      periodSeconds: this.params.periodSeconds,
      params: { preemptionPenalty: this.params.preemptionPenalty },
      nodes: view.nodes,
      leases,
      bids,
    };
    const started = performance.now();
    const result = await this.clearOrFallBack(snapshot);
    const solveMs = performance.now() - started;
    this.statusCounts.set(result.status, (this.statusCounts.get(result.status) ?? 0) + 1);
    for (const loss of result.losses) this.lossCounts.set(loss.reason, (this.lossCounts.get(loss.reason) ?? 0) + 1);
    const hitTimeLimit = result.stats.cutShort === true;
    if (hitTimeLimit) this.roundsAtTimeLimit.push(snapshot.roundId);

    // The service's own rule turns the clearing result into leases, notices, win-backs and unit prices.
    const outcome = planRoundOutcome({
      now: view.now,
      result,
      nodes: view.nodes,
      leases: view.leases.map(({ record: rec }) => ({
        id: rec.id,
        state: rec.lease.state as LiveLease['state'],
        noticeEndsAt: rec.lease.noticeEndsAt,
        limitPrice: rec.limit,
        shares: rec.nodeShares,
      })),
      bids: new Map(
        view.open.map((o): [string, BidTerms] => [
          o.job.id,
          { id: o.job.id, preemptible: o.job.preemptible, remainingSeconds: o.remainingSeconds, offers: o.job.offers },
        ]),
      ),
      preemptionNoticeSeconds: this.params.preemptionNoticeSeconds,
      minHoldSeconds: this.params.minHoldSeconds,
      newId: () => view.newLeaseId(),
    });
    const placements: PlacementDecision[] = outcome.newLeases.map((lease) => {
      const open = byBid.get(lease.bidId);
      if (!open) throw new Error(`market: clearing placed unknown bid ${lease.bidId}`);
      return {
        leaseId: lease.id,
        jobIndex: open.index,
        gpuModel: lease.gpuModel,
        limit: lease.limitPrice,
        startAfter: lease.startAfter,
        protectedUntil: lease.protectedUntil,
        shares: lease.shares.map((s) => ({ node: this.nodeIndex!.get(s.nodeId)!, gpus: s.gpus })),
      };
    });
    // Each priced lease's node prices (per share, in its share order) and what the round says it pays.
    const limits = new Map<string, Money>(view.leases.map(({ record: rec }) => [rec.id, rec.limit]));
    for (const lease of outcome.newLeases) limits.set(lease.id, lease.limitPrice);
    let unitPriceMismatches = 0;
    const repricing = new Map<string, RoundLeasePrice>();
    for (const r of outcome.repricing) {
      const limit = limits.get(r.leaseId);
      if (limit) {
        const rule = leaseUnitPrice(limit, r.shares);
        if (!rule.unitPrice.equals(r.unitPrice) || !rule.uplift.equals(r.uplift)) unitPriceMismatches++;
      }
      repricing.set(r.leaseId, {
        nodePrices: r.shares.map((s) => s.nodePrice),
        unitPrice: r.unitPrice,
        uplift: r.uplift,
      });
    }
    const paradox = new Map<string, string>();
    for (const p of result.paradoxicallyRejected) if (!paradox.has(p.bidId)) paradox.set(p.bidId, p.reason);
    const paradoxicallyRejected: Record<string, number> = {};
    for (const reason of paradox.values()) paradoxicallyRejected[reason] = (paradoxicallyRejected[reason] ?? 0) + 1;
    const method = (result.stats as { pricing?: { method?: unknown } }).pricing?.method;
    const pricing: RoundPricing = {
      losers: result.losses.length,
      paradoxicallyRejected,
      vwap: new Map(result.prices.map((p) => [poolKey(p.gpuModel, p.region), { price: p.vwap, soldGpus: p.soldGpus }])),
      unitPriceMismatches,
      method: typeof method === 'string' ? method : null,
    };
    const prices = new Map<string, Money>(result.prices.map((p) => [poolKey(p.gpuModel, p.region), p.price]));
    return {
      placements,
      preempt: outcome.notices.map((n) => n.leaseId),
      winBacks: outcome.winBacks,
      repricing,
      prices,
      pricing,
      solveMs,
      status: result.status,
      hitTimeLimit,
    };
  }
}
