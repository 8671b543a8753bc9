import { Inject, Injectable } from '@nestjs/common';
import { resolveRange } from '../../core/finance/report-range.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { ValidationFailedError } from '../../platform/errors/app-error.js';
import type { MissedSlotsDto, MissedSlotsQueryDto } from './missed-slots.dto.js';
import { MissedSlotsRepository } from './missed-slots.repository.js';

const DEFAULT_LIMIT = 50;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A cursor is the first slot of the previous page's last run; slots are whole milliseconds. */
const encodeCursor = (firstSlot: Date) => Buffer.from(firstSlot.toISOString()).toString('base64url');

function decodeCursor(cursor: string): Date {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!ISO_MS.test(text) || Number.isNaN(Date.parse(text))) {
    throw new ValidationFailedError([
      { field: 'cursor', rule: 'is_cursor', message: 'cursor must be a nextCursor returned by this API' },
    ]);
  }
  return new Date(text);
}

/**
 * Slots of the round schedule that got no round, for an operator: a gap in the rounds is
 * explained here (down, lost schedule, overrun, late job) rather than silent. The range follows
 * the reports: [from, to), one day up to now by default, at most REPORT_MAX_SPAN_DAYS.
 */
@Injectable()
export class MissedSlotsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly missedSlots: MissedSlotsRepository,
  ) {}

  async list(query: MissedSlotsQueryDto): Promise<MissedSlotsDto> {
    const { range, problems } = resolveRange(
      {
        from: query.from === undefined ? undefined : new Date(query.from),
        to: query.to === undefined ? undefined : new Date(query.to),
      },
      new Date(),
      this.config.reportMaxSpanDays,
    );
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const limit = query.limit ?? DEFAULT_LIMIT;
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await this.missedSlots.page(range.from, range.to, limit + 1, after);
    const page = rows.slice(0, limit);
    return {
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      missed: page.map((row) => ({
        firstSlot: row.firstSlot.toISOString(),
        lastSlot: row.lastSlot.toISOString(),
        slots: row.slots,
        periodSeconds: row.periodSeconds,
        reason: row.reason,
        detectedAt: row.detectedAt.toISOString(),
      })),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.firstSlot) : null,
    };
  }
}
