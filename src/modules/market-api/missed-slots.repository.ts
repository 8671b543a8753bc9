import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { MissedSlots } from '../market/rounds.repository.js';

/** The round schedule's recorded misses (rounds.repository writes them when it claims a slot). */
@Injectable()
export class MissedSlotsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Runs with at least one slot in [from, to), oldest first: a run that straddles `from` is
   * included, since some of its slots are in the range. `after` is the first slot of the last
   * run of the previous page (first slots are unique: the table's key).
   */
  async page(from: Date, to: Date, limit: number, after?: Date): Promise<MissedSlots[]> {
    return this.dataSource.query(
      `SELECT first_slot AS "firstSlot", last_slot AS "lastSlot", slots, period_seconds AS "periodSeconds", reason,
              detected_at AS "detectedAt"
         FROM missed_round_slots
        WHERE first_slot < $2 AND last_slot >= $1 AND ($4::timestamptz IS NULL OR first_slot > $4)
        ORDER BY first_slot LIMIT $3`,
      [from, to, limit, after ?? null],
    );
  }
}
