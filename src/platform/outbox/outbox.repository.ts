import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { JobCatalogue, JobName } from '../queue/job-catalogue.js';

export interface OutboxMessage<N extends JobName = JobName> {
  readonly jobName: N;
  readonly payload: JobCatalogue[N];
  /** Deduplicates on the queue: a relayed-twice row is one job. */
  readonly jobId: string;
  readonly deliverAt?: Date;
}

export interface PendingMessage extends OutboxMessage {
  readonly id: string;
}

/** Rows written in the same transaction as the change they announce. */
@Injectable()
export class OutboxRepository {
  async add(manager: EntityManager, messages: readonly OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await manager.query(
      `INSERT INTO outbox (job_name, payload, job_id, deliver_at)
       SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::timestamptz[])`,
      [
        messages.map((m) => m.jobName),
        messages.map((m) => JSON.stringify(m.payload)),
        messages.map((m) => m.jobId),
        messages.map((m) => m.deliverAt ?? new Date()),
      ],
    );
  }

  /** Oldest unrelayed rows, locked so that two relays never take the same row. */
  async claimPending(manager: EntityManager, limit: number): Promise<PendingMessage[]> {
    const rows: Array<{ id: string; job_name: JobName; payload: never; job_id: string; deliver_at: Date }> =
      await manager.query(
        `SELECT id, job_name, payload, job_id, deliver_at FROM outbox
        WHERE relayed_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
    return rows.map((r) => ({
      id: r.id,
      jobName: r.job_name,
      payload: r.payload,
      jobId: r.job_id,
      deliverAt: r.deliver_at,
    }));
  }

  async markRelayed(manager: EntityManager, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await manager.query('UPDATE outbox SET relayed_at = now() WHERE id = ANY($1::bigint[])', [ids]);
  }

  /** A row the queue refused: set aside with its error, so that the rows behind it go on. */
  async markFailed(manager: EntityManager, id: string, error: string): Promise<void> {
    await manager.query('UPDATE outbox SET failed_at = now(), error = $2 WHERE id = $1', [id, error]);
  }

  async pendingCount(manager: EntityManager): Promise<number> {
    const rows: Array<{ n: number }> = await manager.query(
      'SELECT count(*)::int AS n FROM outbox WHERE relayed_at IS NULL AND failed_at IS NULL',
    );
    return rows[0].n;
  }
}
