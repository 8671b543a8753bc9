import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { BUCKETS, type Bucket } from '../../core/finance/report-range.js';
import { IsInstant, LABEL } from '../../platform/http/validators.js';
import { RoundSummaryDto } from '../market/market-read.dto.js';
import type { RevenueGroup } from './reports.repository.js';

export const FORMATS = ['json', 'csv'] as const;
export type ReportFormat = (typeof FORMATS)[number];
export const REVENUE_GROUPS: readonly RevenueGroup[] = ['provider', 'pool', 'day'];

export class ReportFormatQueryDto {
  @ApiPropertyOptional({ enum: FORMATS, description: 'csv, or send `Accept: text/csv`; JSON by default' })
  @IsOptional()
  @IsIn(FORMATS)
  format?: ReportFormat;
}

export class ReportRangeQueryDto extends ReportFormatQueryDto {
  @ApiPropertyOptional({ example: '2026-11-21T00:00:00Z', description: 'start, inclusive (default: one day before `to`)' })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ example: '2026-11-22T00:00:00Z', description: 'end, exclusive (default: now); at most REPORT_MAX_SPAN_DAYS after `from`' })
  @IsOptional()
  @IsInstant()
  to?: string;
}

export class BucketedQueryDto extends ReportRangeQueryDto {
  @ApiPropertyOptional({ enum: BUCKETS, description: 'bucket length, boundaries in UTC (default 1h)' })
  @IsOptional()
  @IsIn(BUCKETS)
  bucket?: Bucket;

  @ApiPropertyOptional({ example: 'H100-SXM-80GB' })
  @IsOptional()
  @Matches(LABEL)
  gpuModel?: string;

  @ApiPropertyOptional({ example: 'eu-west' })
  @IsOptional()
  @Matches(LABEL)
  region?: string;
}

export class RevenueQueryDto extends ReportRangeQueryDto {
  @ApiPropertyOptional({ enum: REVENUE_GROUPS, description: 'default day' })
  @IsOptional()
  @IsIn(REVENUE_GROUPS)
  groupBy?: RevenueGroup;
}

class ReportRangeDto {
  @ApiProperty() from: string;
  @ApiProperty() to: string;
}

export class MarginalBidDto {
  @ApiProperty({ description: 'a bid id, or a lease id when a running lease set the price' }) id: string;
  @ApiProperty({ nullable: true, type: String, description: "its limit per GPU-hour in the pool's model" }) limit: string | null;
}

export class PriceBucketDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() bucketStart: string;
  @ApiProperty({ example: '2.10' }) open: string;
  @ApiProperty() high: string;
  @ApiProperty() low: string;
  @ApiProperty() close: string;
  @ApiProperty({ nullable: true, type: String, description: 'sum(price x sold GPUs) / sum(sold GPUs) over the rounds; null when nothing sold' })
  vwap: string | null;
  @ApiProperty({ description: 'sold GPUs x round period, summed over the rounds' }) gpuHours: string;
  @ApiProperty() rounds: number;
  @ApiProperty({ description: 'the round that set the close' }) closeRoundId: string;
  @ApiProperty({ nullable: true, type: MarginalBidDto, description: 'what set the close; null when a reserve did' }) marginalBid: MarginalBidDto | null;
}

export class ClearingPricesReportDto extends ReportRangeDto {
  @ApiProperty({ enum: BUCKETS }) bucket: Bucket;
  @ApiProperty({ description: 'seconds a round price holds; GPU-hours are sold GPUs times this' }) roundPeriodSeconds: number;
  @ApiProperty({ type: [PriceBucketDto] }) rows: PriceBucketDto[];
}

export class LedgerFiguresDto {
  @ApiProperty({ example: '8.000000' }) gpuHours: string;
  @ApiProperty({ example: '20.000000' }) charges: string;
  @ApiProperty() payouts: string;
  @ApiProperty() fees: string;
  @ApiProperty() entries: number;
}

export class RevenueRowDto extends LedgerFiguresDto {
  @ApiPropertyOptional() providerId?: string;
  @ApiPropertyOptional() providerName?: string;
  @ApiPropertyOptional() gpuModel?: string;
  @ApiPropertyOptional() region?: string;
  @ApiPropertyOptional({ description: 'UTC day' }) day?: string;
}

export class RevenueReportDto extends ReportRangeDto {
  @ApiProperty({ enum: REVENUE_GROUPS }) groupBy: RevenueGroup;
  @ApiProperty({ type: [RevenueRowDto] }) rows: RevenueRowDto[];
  @ApiProperty({ type: LedgerFiguresDto }) totals: LedgerFiguresDto;
}

export class TenantChargeRowDto {
  @ApiProperty() tenantId: string;
  @ApiProperty() tenantName: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() gpuHours: string;
  @ApiProperty() charges: string;
  @ApiProperty() entries: number;
}

export class TenantChargesReportDto extends ReportRangeDto {
  @ApiProperty({ type: [TenantChargeRowDto] }) rows: TenantChargeRowDto[];
}

export class UtilizationRowDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() bucketStart: string;
  @ApiProperty() soldGpuHours: string;
  @ApiProperty() availableGpuHours: string;
  @ApiProperty({ nullable: true, type: String, example: '0.750000', description: 'sold over available; null when nothing was available' })
  utilization: string | null;
}

export class UtilizationReportDto extends ReportRangeDto {
  @ApiProperty({ enum: BUCKETS }) bucket: Bucket;
  @ApiProperty() roundPeriodSeconds: number;
  @ApiProperty({ type: [UtilizationRowDto] }) rows: UtilizationRowDto[];
}

export class ReconciliationFiguresDto {
  @ApiProperty() charges: string;
  @ApiProperty() payouts: string;
  @ApiProperty() fees: string;
  @ApiProperty({ description: 'charges - payouts - fees, unrounded; must be zero' }) difference: string;
  @ApiProperty() balanced: boolean;
}

export class ReconciliationDayDto extends ReconciliationFiguresDto {
  @ApiProperty() day: string;
  @ApiProperty() entries: number;
}

export class ReconciliationBreakDto extends ReconciliationFiguresDto {
  @ApiProperty({ nullable: true, type: String, description: 'null for entries settled outside a round' }) roundId: string | null;
  @ApiProperty({ nullable: true, type: Number }) seq: number | null;
  @ApiProperty({ nullable: true, type: String, description: "the round's audit" }) link: string | null;
  @ApiProperty() entries: number;
}

export class ReconciliationReportDto extends ReportRangeDto {
  @ApiProperty({ type: ReconciliationFiguresDto }) totals: ReconciliationFiguresDto & { entries: number };
  @ApiProperty({ type: [ReconciliationDayDto] }) rows: ReconciliationDayDto[];
  @ApiProperty({ type: [ReconciliationBreakDto], description: 'every round whose entries do not balance; empty when reconciled' })
  breaks: ReconciliationBreakDto[];
}

export class AuditPoolDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() price: string;
  @ApiProperty({ description: 'GPUs on offer in the round' }) supplyGpus: number;
  @ApiProperty({ description: 'GPUs held after the round (new and running leases)' }) soldGpus: number;
  @ApiProperty({ description: 'GPUs of winners placed here plus losers that would have accepted the pool' }) demandGpus: number;
  @ApiProperty() wonGpus: number;
  @ApiProperty() lostGpus: number;
  @ApiProperty({ nullable: true, description: 'what set the price; null when a reserve did' })
  marginalBid: { id: string; kind: 'bid' | 'lease' | null; tenantId: string | null; limit: string | null } | null;
}

export class AuditWinnerDto {
  @ApiProperty() bidId: string;
  @ApiProperty() leaseId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty() gpus: number;
  @ApiProperty() limitPrice: string;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({ description: 'the lease now' }) state: string;
  @ApiProperty({ description: 'where it runs and the price per GPU-hour it pays there now' })
  nodes: Array<{ nodeId: string; providerId: string; region: string; gpus: number; unitPrice: string }>;
}

export class AuditLoserDto {
  @ApiProperty() bidId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: ['outbid', 'no_capacity_for_contiguity', 'below_reserve', 'no_matching_nodes'] }) reason: string;
  @ApiProperty() gpus: number;
  @ApiProperty() contiguity: string;
  @ApiProperty({ type: [String] }) regions: string[];
  @ApiProperty() offers: Array<{ gpuModel: string; maxPrice: string }>;
}

export class RoundAuditDto {
  @ApiProperty({ type: RoundSummaryDto }) round: RoundSummaryDto;
  @ApiProperty({ type: [AuditPoolDto] }) pools: AuditPoolDto[];
  @ApiProperty({ description: 'GPUs asked for by all bids of the round, each counted once' }) demandGpus: number;
  @ApiProperty({ type: [AuditWinnerDto] }) winners: AuditWinnerDto[];
  @ApiProperty({ type: [AuditLoserDto] }) losers: AuditLoserDto[];
}
