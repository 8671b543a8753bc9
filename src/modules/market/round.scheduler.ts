import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { JOB_QUEUE } from '../../platform/queue/job-queue.module.js';
import type { JobQueue } from '../../platform/queue/job-queue.js';
import { RoundService } from './round.service.js';

/**
 * One `round.clear` job per slot (each multiple of the period) from a queue schedule: one
 * schedule in Redis however many replicas ask for it. A round is labelled by the slot its job
 * was scheduled for, not by when the job runs; the slot's unique claim in PostgreSQL makes a
 * duplicate job harmless, and slots that got no round are recorded as missed.
 */
@Injectable()
export class RoundScheduler implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('Rounds');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly rounds: RoundService,
  ) {}

  onModuleInit(): void {
    this.queue.handle(
      'round.clear',
      async (_payload, context) => {
        // A driver that cannot say when the run was meant for: the slot nearest to now.
        const summary = await this.rounds.runScheduled(context.scheduledAt ?? Date.now());
        if (summary)
          this.logger.log(
            `round ${summary.seq}: ${summary.placements} placed, ${summary.preemptions} preempted, ${summary.expired} expired of ${summary.openBids} open bids (${Math.round(Object.values(summary.timings).reduce((a, b) => a + b, 0))} ms)`,
          );
      },
      { concurrency: 1 },
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.repeat('round.clear', this.config.roundPeriodSeconds * 1000, {});
  }
}
