import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { LEASE_STATES, type LeaseState } from '../../core/market/lease-lifecycle.js';
import { PageQueryDto } from '../../platform/http/page-query.dto.js';
import { IsInstant } from '../../platform/http/validators.js';

export { PageQueryDto };

// The lifecycle defines the states once; the API's enum is that list.
export { LEASE_STATES, type LeaseState };
export const REPORTED_STATES = ['running', 'completed', 'failed', 'stopped'] as const;

export class ListLeasesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: LEASE_STATES })
  @IsOptional()
  @IsIn(LEASE_STATES)
  state?: LeaseState;

  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'true: only leases whose workload the market failed to stop and that still hold their GPUs',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  needsAttention?: 'true' | 'false';
}

export class LedgerQueryDto {
  @ApiPropertyOptional({
    example: '2026-11-22T00:00:00Z',
    description:
      'start, inclusive: entries whose interval ends at or after this instant (a range is [from, to), as in the reports)',
  })
  @IsOptional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({
    example: '2026-11-23T00:00:00Z',
    description: 'end, exclusive: entries whose interval ends before this instant',
  })
  @IsOptional()
  @IsInstant()
  to?: string;

  @ApiPropertyOptional({
    type: 'integer',
    example: 500,
    description: 'entries returned, newest first (1-5000, default 500); totals cover the whole range',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(5000)
  limit?: number;
}

/** When a service replica's process started, first accepted a connection, and got ready. */
export class ServingTimesDto {
  @ApiProperty({ type: 'integer', example: 1767225600000, description: 'epoch milliseconds' })
  @IsInt()
  @Min(0)
  @Max(8_640_000_000_000_000)
  spawnedAt: number;

  @ApiPropertyOptional({ type: 'integer', example: 1767225601200, description: 'epoch milliseconds' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(8_640_000_000_000_000)
  listeningAt?: number;

  @ApiPropertyOptional({ type: 'integer', example: 1767225602500, description: 'epoch milliseconds' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(8_640_000_000_000_000)
  readyAt?: number;
}

export class LeaseStatusReportDto {
  @ApiProperty({ enum: REPORTED_STATES })
  @IsIn(REPORTED_STATES)
  state: (typeof REPORTED_STATES)[number];

  @ApiPropertyOptional({ type: 'integer', example: 0 })
  @IsOptional()
  @IsInt()
  @Min(-2_147_483_648)
  @Max(2_147_483_647)
  exitCode?: number;

  @ApiPropertyOptional({ example: 'CUDA error: out of memory' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  message?: string;

  @ApiPropertyOptional({
    example: 'gpu-017',
    description: "the reporting node's externalId (node agents; required for a lease on several of its nodes)",
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  node?: string;

  @ApiPropertyOptional({
    example: '10.0.3.17:40123',
    description:
      "a service replica's host:port, reported once its readiness path answered 200 (docs/services.md); " +
      'the gateway sends requests there',
  })
  @IsOptional()
  @IsString()
  @Matches(/^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}$/, { message: 'endpoint must be host:port' })
  endpoint?: string;

  @ApiPropertyOptional({ type: () => ServingTimesDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ServingTimesDto)
  serving?: ServingTimesDto;
}

export class NodePriceBandDto {
  @ApiProperty({ nullable: true, type: String, example: '2.10' }) min: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2.35' }) median: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2.80' }) max: string | null;
}

export class PoolPriceDto {
  @ApiProperty({ example: 'H100-SXM-80GB' }) gpuModel: string;
  @ApiProperty({ example: 'eu-west' }) region: string;
  @ApiProperty({
    example: '2.35',
    description:
      "the pool index per GPU-hour: the lowest price among the pool's nodes with a contestable GPU (what the most flexible 1-GPU bid pays there)",
  })
  price: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: "the losing bid or displaced lease that set the index node's price; null when its reserve did",
  })
  marginalBidId: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.35',
    description:
      "the marginal bid's limit per GPU-hour in this pool's GPU model (a displaced lease's limit when a lease set the price); null when a reserve did",
  })
  marginalBidPrice: string | null;
  @ApiProperty({ type: 'integer' }) supplyGpus: number;
  @ApiProperty({ type: 'integer' }) soldGpus: number;
  @ApiProperty({
    type: NodePriceBandDto,
    description: "lowest, median (lower) and highest node price of the pool's nodes this round",
  })
  nodePrices: NodePriceBandDto;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.41',
    description:
      'GPU-weighted mean unit price that placements and kept leases on the pool pay this round; null when none',
  })
  chargeVwap: string | null;
}

export class RoundSummaryDto {
  @ApiProperty() id: string;
  @ApiProperty({ type: 'integer' }) seq: number;
  @ApiProperty() periodStart: string;
  @ApiProperty({ enum: ['clearing', 'committed', 'abandoned'] }) state: string;
  @ApiProperty() startedAt: string;
  @ApiProperty({ nullable: true, type: String }) committedAt: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'highs' }) solver: string | null;
  @ApiProperty({ nullable: true, type: String, enum: ['optimal', 'feasible', 'heuristic'] }) solverStatus:
    string | null;
  @ApiProperty({ nullable: true, type: String, description: 'welfare per hour, decimal' }) welfare: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'LP bound on welfare per hour, decimal' }) upperBound:
    string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: '(upperBound - welfare) / upperBound to 6 places; null when no bound is known',
  })
  gap: string | null;
  @ApiProperty({ type: 'integer' }) openBids: number;
  @ApiProperty({ type: 'integer' }) placements: number;
  @ApiProperty({ type: 'integer' }) preemptions: number;
  @ApiProperty({ type: 'integer' }) expired: number;
}

export class RoundDto extends RoundSummaryDto {
  @ApiProperty({ type: [PoolPriceDto] }) prices: PoolPriceDto[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'milliseconds per phase' })
  timings: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: true }) stats: Record<string, unknown>;
}

export class RoundPageDto {
  @ApiProperty({ type: [RoundSummaryDto] }) rounds: RoundSummaryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class MarketPriceDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'latest committed price per GPU-hour; null before the pool is first priced',
  })
  price: string | null;
  @ApiProperty({ nullable: true, type: String }) roundId: string | null;
  @ApiProperty({ nullable: true, type: String }) periodStart: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'the bid that set the latest price; null when a reserve did',
  })
  marginalBidId: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.35',
    description:
      "the marginal bid's limit per GPU-hour in this pool's GPU model (a displaced lease's limit when a lease set the price); null when a reserve set the price",
  })
  marginalBidPrice: string | null;
  @ApiProperty({ type: 'integer', description: 'GPUs of active nodes now' }) supplyGpus: number;
  @ApiProperty({ type: 'integer', description: 'GPUs of active nodes not held by an allocated or running lease' })
  freeGpus: number;
  @ApiProperty({ nullable: true, type: String, description: 'lowest reserve among active nodes' }) reserveFloor:
    string | null;
}

export class MarketPricesDto {
  @ApiProperty({ type: [MarketPriceDto] }) pools: MarketPriceDto[];
}

export class LeaseNodeDto {
  @ApiProperty() nodeId: string;
  @ApiProperty() providerId: string;
  @ApiProperty() externalId: string;
  @ApiProperty() region: string;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty({
    example: '2.35',
    description:
      "the lease's unit price per GPU-hour this period: min(its limit, GPU-weighted mean of its nodes' prices)",
  })
  unitPrice: string;
  @ApiProperty({
    example: '2.35',
    description: "this node's price per GPU-hour this period: what its provider earns per GPU",
  })
  nodePrice: string;
  @ApiProperty({
    example: '0',
    description:
      'mean node price minus unit price, per GPU-hour: what the market pays the providers because the limit caps the lease',
  })
  uplift: string;
}

export class LeaseStopFailureDto {
  @ApiProperty({ description: 'when an order to stop the workload first failed for good' }) at: string;
  @ApiProperty({ example: 'the agent on gpu-host-1 did not acknowledge the terminate order in 30000 ms' })
  error: string;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'when the provider confirmed the workload is gone; until then its GPUs stay held',
  })
  confirmedAt: string | null;
}

export class LeaseDto {
  @ApiProperty() id: string;
  @ApiProperty() bidId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() roundId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty({ example: '2.50' }) limitPrice: string;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({
    enum: LEASE_STATES,
    description:
      'allocated, running and preempting are live; completed, cancelled (the tenant cancelled its bid), preempted and failed are final',
  })
  state: string;
  @ApiProperty({ type: 'integer' }) runtimeSeconds: number;
  @ApiProperty() allocatedAt: string;
  @ApiProperty({ nullable: true, type: String }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) protectedUntil: string | null;
  @ApiProperty({ nullable: true, type: String }) noticeEndsAt: string | null;
  @ApiProperty({ nullable: true, type: String }) endedAt: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'workload_ended',
    description:
      'runtime_reached, workload_ended, cancelled, preempted (its notice ended), stopped_on_notice (its workload stopped during its notice: billed to the stop), or a failure reason',
  })
  endReason: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) exitCode: number | null;
  @ApiProperty({ nullable: true, type: String }) settledUntil: string | null;
  @ApiProperty({
    nullable: true,
    type: LeaseStopFailureDto,
    description: 'set when the market failed to stop the workload (a dead-lettered terminate); null otherwise',
  })
  stopFailure: LeaseStopFailureDto | null;
  @ApiProperty({ type: [LeaseNodeDto] }) nodes: LeaseNodeDto[];
}

export class LeasePageDto {
  @ApiProperty({ type: [LeaseDto] }) leases: LeaseDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class LedgerEntryDto {
  @ApiProperty() id: string;
  @ApiProperty({ nullable: true, type: String }) roundId: string | null;
  @ApiProperty() leaseId: string;
  @ApiProperty() bidId: string;
  @ApiProperty() tenantId: string;
  @ApiProperty() providerId: string;
  @ApiProperty() nodeId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty() region: string;
  @ApiProperty() periodStart: string;
  @ApiProperty() periodEnd: string;
  @ApiProperty({ type: 'integer' }) seconds: number;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty({ example: '2.35', description: "the lease's unit price per GPU-hour for the interval" })
  unitPrice: string;
  @ApiProperty({ example: '2.35', description: "the node's price per GPU-hour for the interval" }) nodePrice: string;
  @ApiProperty({ example: '4.700000', description: 'what the tenant pays' }) charge: string;
  @ApiProperty({
    example: '0.000000',
    description: "what the market pays the provider because the lease's limit is below its nodes' mean price",
  })
  uplift: string;
  @ApiProperty({ example: '0.470000', description: "the platform's fee on the provider's gross (charge + uplift)" })
  fee: string;
  @ApiProperty({ example: '4.230000', description: 'what the provider receives: charge + uplift - fee' })
  payout: string;
}

export class LedgerTotalsDto {
  @ApiProperty({ example: '4.700000' }) charges: string;
  @ApiProperty({ example: '0.000000', description: 'charges + uplift = payouts + fees' }) uplift: string;
  @ApiProperty({ example: '0.470000' }) fees: string;
  @ApiProperty({ example: '4.230000' }) payouts: string;
  @ApiProperty({ type: 'integer', description: 'entries in the range (entries may hold fewer: see limit)' })
  count: number;
}

export class LedgerDto {
  @ApiProperty({ nullable: true, type: String }) from: string | null;
  @ApiProperty({ nullable: true, type: String }) to: string | null;
  @ApiProperty({ type: [LedgerEntryDto] }) entries: LedgerEntryDto[];
  @ApiProperty({ type: LedgerTotalsDto }) totals: LedgerTotalsDto;
}
