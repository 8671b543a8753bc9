import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { PageQueryDto } from '../../platform/http/page-query.dto.js';
import { IsInstant } from '../../platform/http/validators.js';

export const MISSED_SLOT_REASONS = ['not_run', 'late'] as const;
export type MissedSlotReason = (typeof MISSED_SLOT_REASONS)[number];

export class MissedSlotsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    example: '2026-12-06T00:00:00Z',
    description: 'start, inclusive (default: one day before `to`): runs with a missed slot at or after it',
  })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({
    example: '2026-12-07T00:00:00Z',
    description:
      'end, exclusive (default: now): runs with a missed slot before it; at most REPORT_MAX_SPAN_DAYS after `from`',
  })
  @IsOptional()
  @IsInstant()
  to?: string;
}

export class MissedSlotRunDto {
  @ApiProperty({ example: '2026-12-06T10:01:00.000Z', description: 'the first slot of the run that got no round' })
  firstSlot: string;
  @ApiProperty({ example: '2026-12-06T10:03:00.000Z', description: 'its last slot (equal to firstSlot for one slot)' })
  lastSlot: string;
  @ApiProperty({ type: 'integer', example: 3, description: 'slots in the run, each one round period' })
  slots: number;
  @ApiProperty({ type: 'integer', example: 60, description: 'the round period (ROUND_PERIOD_SECONDS) when recorded' })
  periodSeconds: number;
  @ApiProperty({
    enum: MISSED_SLOT_REASONS,
    description:
      "not_run: no round was started for these slots (the service was down, the schedule was lost, or an earlier round ran past them); late: the slot's job came after the next slot had begun, too late to clear that period",
  })
  reason: MissedSlotReason;
  @ApiProperty({
    example: '2026-12-06T10:04:00.012Z',
    description: 'when the service noticed and recorded the miss (the next claimed slot)',
  })
  detectedAt: string;
}

export class MissedSlotsDto {
  @ApiProperty({ example: '2026-12-06T00:00:00.000Z' }) from: string;
  @ApiProperty({ example: '2026-12-07T00:00:00.000Z' }) to: string;
  @ApiProperty({ type: [MissedSlotRunDto], description: 'runs of consecutive missed slots, oldest first' })
  missed: MissedSlotRunDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as `cursor` (with the same from and to) for the next page; null on the last page',
  })
  nextCursor: string | null;
}
