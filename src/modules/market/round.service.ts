import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { clearRound } from '../../core/clearing/clear-round.js';
import { planRoundOutcome } from '../../core/market/round-outcome.js';
import type { RoundSnapshot } from '../../core/market/types.js';
import { toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { advisoryXactLock } from '../../platform/database/advisory-lock.js';
import { failpoint } from '../../platform/failpoint.js';
import { TransactionRunner } from '../../platform/database/transaction-runner.js';
import { ClearingRunner } from './clearing-runner.service.js';
import { LeaseStateService } from '../leases/lease-state.service.js';
import { MarketSnapshotRepository } from './market-snapshot.repository.js';
import { OutboxRelayService } from '../../platform/outbox/outbox-relay.service.js';
import { RoundCommitService, type CommitCounts } from './round-commit.service.js';
import { RoundsRepository, type ClaimedRound, type MissedSlots } from './rounds.repository.js';

export const ROUND_COMMIT_LOCK = 'gpumarket:round-commit';

export interface RoundSummary extends CommitCounts {
  readonly roundId: string;
  readonly seq: number;
  readonly periodStart: string;
  readonly timings: Record<string, number>;
}

export function periodStartOf(now: Date, periodSeconds: number): Date {
  const periodMs = periodSeconds * 1000;
  return new Date(Math.floor(now.getTime() / periodMs) * periodMs);
}

/**
 * The slot a scheduled run stands for: the multiple of the period nearest to the instant the
 * schedule meant it for. Not the period the run finds itself in: a job promoted a few
 * milliseconds before its boundary would otherwise carry the previous period's label.
 */
export function slotOf(scheduledAt: number, periodSeconds: number): Date {
  const periodMs = periodSeconds * 1000;
  return new Date(Math.round(scheduledAt / periodMs) * periodMs);
}

/**
 * One clearing round, as named phases: claim the period, apply what the clock made due,
 * snapshot, clear (outside any transaction: it may take seconds), commit every decision in one
 * transaction under the round lock, relay the outbox. A crash in any phase leaves the database
 * as the last commit left it; the claimed round is then abandoned and the next one proceeds.
 */
@Injectable()
export class RoundService {
  private readonly logger = new Logger('Rounds');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly transactions: TransactionRunner,
    private readonly rounds: RoundsRepository,
    private readonly snapshots: MarketSnapshotRepository,
    private readonly leaseState: LeaseStateService,
    private readonly committer: RoundCommitService,
    private readonly relay: OutboxRelayService,
    private readonly clearing: ClearingRunner,
  ) {}

  /**
   * The clearing core (on its worker thread), falling back to its own heuristic if a solver
   * fails: a market that abandoned its rounds on a solver error would stop placing work.
   */
  private async clear(snapshot: RoundSnapshot) {
    const timeLimitMs = Math.min(this.config.roundTimeLimitMs, this.config.roundPeriodSeconds * 500);
    try {
      return await this.clearing.clear(snapshot, timeLimitMs);
    } catch (error) {
      this.logger.error(
        `clearing failed (${error instanceof Error ? error.message : String(error)}); this round uses the heuristic`,
      );
      return clearRound(snapshot, { timeLimitMs, backend: null });
    }
  }

  /**
   * The round of a slot of the schedule (`scheduledAt`: when the schedule meant it to run). Slots
   * that got no round before it, or this one if it comes too late, are recorded as missed.
   */
  async runScheduled(scheduledAt: number, now: Date = new Date()): Promise<RoundSummary | null> {
    return this.runRound({ now, slot: slotOf(scheduledAt, this.config.roundPeriodSeconds) });
  }

  /** Recorded missed slots, newest first (`before`: a first slot to page from). */
  missedSlots(limit: number, before?: Date): Promise<MissedSlots[]> {
    return this.transactions.run((m) => this.rounds.listMissed(m, limit, before));
  }

  private async claim(periodStart: Date, now: Date, scheduled: boolean): Promise<ClaimedRound | null> {
    const staleAfter = Math.max(300, this.config.roundPeriodSeconds * 3);
    if (!scheduled) return this.transactions.run((m) => this.rounds.claim(m, periodStart, staleAfter));
    const { round, missed } = await this.transactions.run((m) =>
      this.rounds.claimSlot(m, periodStart, this.config.roundPeriodSeconds, now, staleAfter),
    );
    for (const gap of missed)
      this.logger.warn(
        `${gap.slots} slot(s) from ${gap.firstSlot.toISOString()} to ${gap.lastSlot.toISOString()} got no round (${gap.reason === 'late' ? 'its job came after the next slot began' : 'no round was started for them'}); recorded as missed`,
      );
    return round;
  }

  /**
   * One round. `slot`: a slot of the schedule, claimed with the accounting of missed slots;
   * `periodStart`: a period named by the caller (tests, replays), claimed as given.
   */
  async runRound(options: { now?: Date; periodStart?: Date; slot?: Date } = {}): Promise<RoundSummary | null> {
    const now = options.now ?? new Date();
    const startedAt = performance.now();
    const periodStart = options.slot ?? options.periodStart ?? periodStartOf(now, this.config.roundPeriodSeconds);
    const timings: Record<string, number> = {};
    const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        timings[phase] = Math.round((performance.now() - started) * 10) / 10;
      }
    };

    const round = await this.claim(periodStart, now, options.slot !== undefined);
    if (!round) return null;
    try {
      await timed('due', () => this.transactions.run((m) => this.leaseState.applyDue(m, now)));
      const state = await timed('snapshot', () =>
        this.transactions.run((m) => this.snapshots.load(m, now), 'REPEATABLE READ'),
      );
      const snapshot: RoundSnapshot = {
        version: 1,
        roundId: round.id,
        now: now.toISOString(),
        periodSeconds: this.config.roundPeriodSeconds,
        params: { preemptionPenalty: toMoney(this.config.preemptionPenalty) },
        nodes: state.nodes,
        leases: state.snapshotLeases,
        bids: state.bids,
      };
      const result = await timed('clear', () => this.clear(snapshot));
      for (const [phase, ms] of Object.entries(result.stats.phases)) timings[`clear.${phase}`] = ms;
      const counts = await timed('commit', () =>
        this.transactions.run(async (manager) => {
          await advisoryXactLock(manager, ROUND_COMMIT_LOCK);
          if (!(await this.rounds.lockForCommit(manager, round.id)))
            throw new Error(`round ${round.id} was abandoned before its commit`);
          // Notices, start times and protection count from the commit, on the round's clock, and
          // not from the round's start: clearing may take its whole budget (10 s by default),
          // and a displaced tenant is owed the full notice period from the moment it is told.
          const decidedAt = now.getTime() + performance.now() - startedAt;
          // So a notice may end while the next round clears after it: it ends here, before the
          // round's win-backs, since its terminate may already have stopped the workload.
          await this.leaseState.applyDue(manager, new Date(decidedAt));
          const outcome = planRoundOutcome({
            now: Math.ceil(decidedAt / 1000),
            result,
            nodes: state.nodes,
            leases: state.liveLeases,
            bids: state.bidTerms,
            preemptionNoticeSeconds: this.config.preemptionNoticeSeconds,
            minHoldSeconds: this.config.minHoldSeconds,
            newId: randomUUID,
          });
          const counts = await this.committer.commit(manager, round, now, {
            result,
            outcome,
            nodes: state.nodes,
            expiredBidIds: state.expiredBidIds,
            openBids: state.bids.length,
          });
          await this.rounds.markCommitted(manager, round.id, result, counts, timings);
          failpoint('round.commit');
          return counts;
        }),
      );
      await timed('relay', () => this.relay.relay());
      await this.transactions.run(async (m) => {
        await this.rounds.saveTiming(m, round.id, 'commit', timings.commit);
        await this.rounds.saveTiming(m, round.id, 'relay', timings.relay);
      });
      return { roundId: round.id, seq: round.seq, periodStart: periodStart.toISOString(), timings, ...counts };
    } catch (error) {
      this.logger.error(`round ${round.seq} failed: ${error instanceof Error ? error.message : String(error)}`);
      await this.transactions.run((m) => this.rounds.abandon(m, round.id)).catch(() => {});
      throw error;
    }
  }
}
