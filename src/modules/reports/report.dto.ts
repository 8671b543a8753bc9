import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min } from 'class-validator';
import { BUCKETS, type Bucket } from '../../core/finance/report-range.js';
import { IsInstant, LABEL } from '../../platform/http/validators.js';
import { NodePriceBandDto, RoundSummaryDto } from '../market-api/market-read.dto.js';
import type { RevenueGroup } from './reports.repository.js';

export const FORMATS = ['json', 'csv'] as const;
export type ReportFormat = (typeof FORMATS)[number];
export const REVENUE_GROUPS: readonly RevenueGroup[] = ['provider', 'tenant', 'pool', 'day'];
export const NODE_PRICES_DEFAULT_LIMIT = 1000;
export const NODE_PRICES_MAX_LIMIT = 10_000;

export class ReportFormatQueryDto {
  @ApiPropertyOptional({ enum: FORMATS, description: 'csv, or send `Accept: text/csv`; JSON by default' })
  @IsOptional()
  @IsIn(FORMATS)
  format?: ReportFormat;
}

export class ReportRangeQueryDto extends ReportFormatQueryDto {
  @ApiPropertyOptional({
    example: '2026-11-21T00:00:00Z',
    description: 'start, inclusive (default: one day before `to`)',
  })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({
    example: '2026-11-22T00:00:00Z',
    description: 'end, exclusive (default: now); at most REPORT_MAX_SPAN_DAYS after `from`',
  })
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

/** A pool filter for the reports that sum the ledger: one GPU model, one region, or one pool. */
export class PoolFilterQueryDto extends ReportRangeQueryDto {
  @ApiPropertyOptional({ example: 'H100-SXM-80GB' })
  @IsOptional()
  @Matches(LABEL)
  gpuModel?: string;

  @ApiPropertyOptional({ example: 'eu-west' })
  @IsOptional()
  @Matches(LABEL)
  region?: string;
}

export class RevenueQueryDto extends PoolFilterQueryDto {
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
  @ApiProperty({ description: "the losing bid, or the displaced lease, that set the index node's price" }) id: string;
  @ApiProperty({ nullable: true, type: String, description: "its limit per GPU-hour in the pool's model" }) limit:
    string | null;
}

export class PriceBucketDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() bucketStart: string;
  @ApiProperty({
    example: '2.10',
    description:
      "the pool index (lowest price among the pool's nodes with a contestable GPU) of the bucket's first round",
  })
  open: string;
  @ApiProperty({ description: 'highest index of the bucket' }) high: string;
  @ApiProperty({ description: 'lowest index of the bucket' }) low: string;
  @ApiProperty({ description: "the index of the bucket's last round" }) close: string;
  @ApiProperty({
    type: NodePriceBandDto,
    description:
      "node prices over the bucket: the lowest node price of any round, the (lower) median of the rounds' median node prices, the highest node price of any round",
  })
  nodePrices: NodePriceBandDto;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'VWAP of actual charges: the GPU-weighted mean unit price paid by placements and kept leases on the pool, sum(round VWAP x paid GPUs) / sum(paid GPUs); null when nothing was paid',
  })
  vwap: string | null;
  @ApiProperty({ description: "paid GPUs x round period, summed over the rounds: the VWAP's weight" })
  paidGpuHours: string;
  @ApiProperty({ description: 'sold GPUs (held when the round cleared) x round period, summed over the rounds' })
  gpuHours: string;
  @ApiProperty({ type: 'integer' }) rounds: number;
  @ApiProperty({ description: 'the round that set the close' }) closeRoundId: string;
  @ApiProperty({
    nullable: true,
    type: MarginalBidDto,
    description:
      "what set the close: the losing bid or displaced lease that set the index node's price; null when its reserve did",
  })
  marginalBid: MarginalBidDto | null;
}

export class ClearingPricesReportDto extends ReportRangeDto {
  @ApiProperty({ enum: BUCKETS }) bucket: Bucket;
  @ApiProperty({ type: 'integer', description: 'seconds a round price holds; GPU-hours are sold GPUs times this' })
  roundPeriodSeconds: number;
  @ApiProperty({ type: [PriceBucketDto] }) rows: PriceBucketDto[];
}

export class LedgerFiguresDto {
  @ApiProperty({ example: '8.000000' }) gpuHours: string;
  @ApiProperty({ example: '20.000000', description: 'what tenants paid' }) charges: string;
  @ApiProperty({
    example: '0.000000',
    description: "what the market paid providers on top of capped leases' charges, out of its fees",
  })
  uplift: string;
  @ApiProperty({ description: 'what providers received: charges + uplift - fees' }) payouts: string;
  @ApiProperty({ description: "the platform's fee on the providers' gross (charges + uplift)" }) fees: string;
  @ApiProperty({ description: "fees - uplift: the market's own take" }) netFees: string;
  @ApiProperty({ type: 'integer' }) entries: number;
}

export class RevenueRowDto extends LedgerFiguresDto {
  @ApiPropertyOptional() providerId?: string;
  @ApiPropertyOptional() providerName?: string;
  @ApiPropertyOptional() tenantId?: string;
  @ApiPropertyOptional() tenantName?: string;
  @ApiPropertyOptional() gpuModel?: string;
  @ApiPropertyOptional() region?: string;
  @ApiPropertyOptional({ description: 'UTC day' }) day?: string;
}

export class RevenueReportDto extends ReportRangeDto {
  @ApiProperty({ enum: REVENUE_GROUPS }) groupBy: RevenueGroup;
  @ApiProperty({ type: [RevenueRowDto] }) rows: RevenueRowDto[];
  @ApiProperty({ type: LedgerFiguresDto }) totals: LedgerFiguresDto;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0.085556',
    description:
      "the market's take rate over the whole range: totals.netFees / totals.charges (1 - payouts / charges), six places; null when nothing was charged",
  })
  takeRate: string | null;
}

export class TenantChargeRowDto {
  @ApiProperty() tenantId: string;
  @ApiProperty() tenantName: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() gpuHours: string;
  @ApiProperty({ description: 'what the tenant paid' }) charges: string;
  @ApiProperty({
    description: "what the market paid on top, because the tenant's limits capped its leases below their nodes' prices",
  })
  uplift: string;
  @ApiProperty({ type: 'integer' }) entries: number;
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
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0.750000',
    description: 'sold over available; null when nothing was available',
  })
  utilization: string | null;
}

export class UtilizationReportDto extends ReportRangeDto {
  @ApiProperty({ enum: BUCKETS }) bucket: Bucket;
  @ApiProperty({ type: 'integer' }) roundPeriodSeconds: number;
  @ApiProperty({ type: [UtilizationRowDto] }) rows: UtilizationRowDto[];
}

export class ReconciliationFiguresDto {
  @ApiProperty() charges: string;
  @ApiProperty() uplift: string;
  @ApiProperty() payouts: string;
  @ApiProperty() fees: string;
  @ApiProperty({ description: 'charges + uplift - payouts - fees, unrounded; must be zero' }) difference: string;
  @ApiProperty() balanced: boolean;
}

export class ReconciliationDayDto extends ReconciliationFiguresDto {
  @ApiProperty() day: string;
  @ApiProperty({ type: 'integer' }) entries: number;
}

export class ReconciliationBreakDto extends ReconciliationFiguresDto {
  @ApiProperty({ nullable: true, type: String, description: 'null for entries settled outside a round' }) roundId:
    string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) seq: number | null;
  @ApiProperty({ nullable: true, type: String, description: "the round's audit" }) link: string | null;
  @ApiProperty({ type: 'integer' }) entries: number;
}

export class ReconciliationReportDto extends ReportRangeDto {
  @ApiProperty({ type: ReconciliationFiguresDto }) totals: ReconciliationFiguresDto & { entries: number };
  @ApiProperty({ type: [ReconciliationDayDto] }) rows: ReconciliationDayDto[];
  @ApiProperty({
    type: [ReconciliationBreakDto],
    description: 'every round whose entries do not balance; empty when reconciled',
  })
  breaks: ReconciliationBreakDto[];
}

export class AuditPoolDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty({ description: "the pool index: the lowest price among the pool's nodes with a contestable GPU" })
  price: string;
  @ApiProperty({
    type: NodePriceBandDto,
    description: "lowest, median (lower) and highest price of the pool's nodes in the round",
  })
  nodePrices: NodePriceBandDto;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'GPU-weighted mean unit price of the placements and kept leases on the pool; null when none',
  })
  chargeVwap: string | null;
  @ApiProperty({ type: 'integer', description: 'GPUs on offer in the round' }) supplyGpus: number;
  @ApiProperty({ type: 'integer', description: 'GPUs held after the round (new and running leases)' })
  soldGpus: number;
  @ApiProperty({
    type: 'integer',
    description: 'GPUs of winners placed here plus losers that would have accepted the pool',
  })
  demandGpus: number;
  @ApiProperty({ type: 'integer' }) wonGpus: number;
  @ApiProperty({ type: 'integer' }) lostGpus: number;
  @ApiProperty({
    nullable: true,
    description: "the losing bid or displaced lease that set the index node's price; null when its reserve did",
  })
  marginalBid: { id: string; kind: 'bid' | 'lease' | null; tenantId: string | null; limit: string | null } | null;
}

export class AuditWinnerDto {
  @ApiProperty() bidId: string;
  @ApiProperty() leaseId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty() limitPrice: string;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({ description: 'the lease now' }) state: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      "what the round priced it at per GPU-hour: min(limit, GPU-weighted mean of its nodes' prices); null for rounds before node prices",
  })
  unitPrice: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'per GPU-hour: the mean node price minus unitPrice, paid by the market (0 unless its limit capped it)',
  })
  uplift: string | null;
  @ApiProperty({
    description:
      "where it runs: roundNodePrice is the node's price in this round (null once past RETENTION_DAYS); unitPrice, nodePrice and uplift are what the lease pays and the node earns there now (repriced every round)",
  })
  nodes: Array<{
    nodeId: string;
    providerId: string;
    region: string;
    gpus: number;
    roundNodePrice: string | null;
    unitPrice: string;
    nodePrice: string;
    uplift: string;
  }>;
}

export class ParadoxicalRejectionDto {
  @ApiProperty({ enum: ['indivisible', 'idle_gpus'] }) reason: string;
  @ApiProperty({ description: 'the offer on which it could have had GPUs below its limit' }) gpuModel: string;
  @ApiProperty({
    description:
      "what its cheapest eligible GPUs cost per GPU-hour at the round's node prices (penalty included where it would displace a lease)",
  })
  cheapestPrice: string;
}

export class AuditLoserDto {
  @ApiProperty() bidId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: ['outbid', 'no_capacity_for_contiguity', 'below_reserve', 'no_matching_nodes'] }) reason: string;
  @ApiProperty({
    nullable: true,
    type: ParadoxicalRejectionDto,
    description:
      "set when the bid lost although it could have taken GPUs below its limit at the round's node prices (market.md section 5a); null otherwise",
  })
  paradoxicallyRejected: ParadoxicalRejectionDto | null;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty() contiguity: string;
  @ApiProperty({ type: [String] }) regions: string[];
  @ApiProperty() offers: Array<{ gpuModel: string; maxPrice: string }>;
}

export class AuditNamesDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'tenant id to name, for every tenant the audit names',
  })
  tenants: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, description: 'provider id to name' })
  providers: Record<string, string>;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    description: "node id to its provider's own name for it (externalId)",
  })
  nodes: Record<string, string>;
}

export class RoundAuditDto {
  @ApiProperty({ type: RoundSummaryDto }) round: RoundSummaryDto;
  @ApiProperty({
    type: AuditNamesDto,
    description: 'the names behind the ids below (a tenant, provider or node deleted since is absent)',
  })
  names: AuditNamesDto;
  @ApiProperty({ type: [AuditPoolDto] }) pools: AuditPoolDto[];
  @ApiProperty({ type: 'integer', description: 'GPUs asked for by all bids of the round, each counted once' })
  demandGpus: number;
  @ApiProperty({ type: [AuditWinnerDto] }) winners: AuditWinnerDto[];
  @ApiProperty({ type: [AuditLoserDto] }) losers: AuditLoserDto[];
}

export class NodePricesQueryDto extends ReportRangeQueryDto {
  @ApiPropertyOptional({ description: "one provider's nodes (a provider key may name only itself)" })
  @IsOptional()
  @IsUUID()
  provider?: string;

  @ApiPropertyOptional({ description: 'one node (its id)' })
  @IsOptional()
  @IsUUID()
  node?: string;

  @ApiPropertyOptional({ example: 'H100-SXM-80GB' })
  @IsOptional()
  @Matches(LABEL)
  gpuModel?: string;

  @ApiPropertyOptional({ example: 'eu-west' })
  @IsOptional()
  @Matches(LABEL)
  region?: string;

  @ApiPropertyOptional({
    type: 'integer',
    example: 1000,
    description: `rows per page, oldest first (1-${NODE_PRICES_MAX_LIMIT}, default ${NODE_PRICES_DEFAULT_LIMIT})`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(NODE_PRICES_MAX_LIMIT)
  limit?: number;

  @ApiPropertyOptional({ description: 'the nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class NodePriceRowDto {
  @ApiProperty() roundId: string;
  @ApiProperty() periodStart: string;
  @ApiProperty() nodeId: string;
  @ApiProperty({ description: "the provider's own name for the node" }) externalId: string;
  @ApiProperty() providerId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty({ example: '1.50', description: "the node's reserve per GPU-hour when the round priced it" })
  reservePrice: string;
  @ApiProperty({
    example: '2.345678',
    description:
      "the node's price per GPU-hour in the round: what its provider earns per GPU-hour sold (before the fee)",
  })
  price: string;
  @ApiProperty({ example: '0.845678', description: 'price - reservePrice: the scarcity rent of its GPUs in the round' })
  rent: string;
}

export class NodePricesReportDto extends ReportRangeDto {
  @ApiProperty({ type: [NodePriceRowDto] }) rows: NodePriceRowDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as `cursor` for the next page; null on the last page',
  })
  nextCursor: string | null;
}

export class PoolSummaryQueryDto extends PoolFilterQueryDto {}

export class PoolSummaryRowDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'the latest committed round before `to` that priced the pool',
  })
  roundId: string | null;
  @ApiProperty({ nullable: true, type: String }) periodStart: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.10',
    description: "the pool index in that round: the lowest price among the pool's nodes with a contestable GPU",
  })
  index: string | null;
  @ApiProperty({
    type: NodePriceBandDto,
    description: "that round's node prices on the pool: lowest, median (lower), highest",
  })
  nodePrices: NodePriceBandDto;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'the index in force 24 hours before `to` (the latest committed round that started before then); null when the pool was not priced yet',
  })
  indexDayAgo: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0.25',
    description: 'index - indexDayAgo, exact; null when either is missing',
  })
  change24h: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '13.64',
    description: 'change24h / indexDayAgo x 100, two places; null when either is missing or indexDayAgo is 0',
  })
  changePercent24h: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.10',
    description:
      'the lowest limit per GPU-hour a 1-GPU bid (contiguity none, this region) would win with now, from the latest node prices and the GPUs held now: the `priceToWin` of POST /v1/quotes; null when it could not be placed (see priceToWinReason). Always now, whatever the range',
  })
  priceToWin: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'why priceToWin is null: no_matching_nodes or no_capacity_for_contiguity (no free or displaceable GPU now)',
  })
  priceToWinReason: string | null;
  @ApiProperty({
    example: '12.000000',
    description: 'GPU-hours charged on the pool in the range (ledger entries ending in it)',
  })
  gpuHours: string;
  @ApiProperty({ example: '4.000000', description: 'of those, GPU-hours of preemptible leases' })
  preemptibleGpuHours: string;
  @ApiProperty({
    type: 'integer',
    description:
      'preemption notices given in the range to leases on the pool (a lease that won its GPUs back still counts)',
  })
  preemptions: number;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '0.250000',
    description: 'preemptions / preemptibleGpuHours, six places; null when no preemptible GPU-hour was charged',
  })
  preemptionsPerPreemptibleGpuHour: string | null;
}

export class PoolSummaryReportDto extends ReportRangeDto {
  @ApiProperty({ type: [PoolSummaryRowDto] }) rows: PoolSummaryRowDto[];
}
