import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { CONTIGUITIES, type Contiguity } from '../../core/market/types.js';
import { IsEnvMap, IsInstant, IsOmittable, IsPrice, LABEL } from '../../platform/http/validators.js';
import { BID_STATUSES, type BidStatus } from './bid-status.js';

export const MAX_BID_GPUS = 4096;
export const MAX_RUNTIME_SECONDS = 30 * 86_400;
export const MAX_OFFER_PRICE = '10000';

/** How OpenAPI shows a price per GPU-hour: an exact decimal string, never a binary float. */
export const MONEY = { type: 'string', pattern: '^\\d+(\\.\\d{1,4})?$' } as const;

export class OfferDto {
  @ApiProperty({ example: 'H100-SXM-80GB' })
  @IsString()
  @Length(1, 64)
  gpuModel: string;

  @ApiProperty({
    ...MONEY,
    example: '2.50',
    description: 'limit price per GPU-hour: a decimal string with at most 4 decimals (a JSON number is also accepted)',
  })
  @IsPrice({ exclusiveMin: '0', max: MAX_OFFER_PRICE })
  maxPrice: string | number;
}

export class WindowDto {
  @ApiPropertyOptional({ example: '2026-11-22T10:00:00Z', description: 'defaults to the time of submission' })
  @IsOmittable()
  @IsInstant()
  notBefore?: string;

  @ApiProperty({ example: '2026-11-23T10:00:00Z' })
  @IsInstant()
  deadline: string;
}

export class WorkloadDto {
  @ApiPropertyOptional({ example: 'nvcr.io/nvidia/pytorch:24.10-py3' })
  @IsOmittable()
  @IsString()
  @Length(1, 512)
  image?: string;

  @ApiPropertyOptional({ type: [String], example: ['python', 'train.py'] })
  @IsOmittable()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(256)
  @IsString({ each: true })
  @MaxLength(4096, { each: true })
  command?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { EPOCHS: '3' } })
  @IsOmittable()
  @IsEnvMap()
  env?: Record<string, string>;
}

export class CreateBidDto {
  @ApiProperty({ type: 'integer', example: 8, description: 'gang size: all GPUs of one model, placed all-or-nothing' })
  @IsInt()
  @Min(1)
  @Max(MAX_BID_GPUS)
  gpus: number;

  @ApiProperty({
    type: [OfferDto],
    description: 'acceptable GPU models, each with its limit price; at most one is used',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(16)
  // An element that is itself an array would pass ValidateNested (it validates the inner elements).
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => OfferDto)
  offers: OfferDto[];

  @ApiProperty({ enum: CONTIGUITIES })
  @IsIn(CONTIGUITIES as Contiguity[])
  contiguity: Contiguity;

  @ApiProperty()
  @IsBoolean()
  preemptible: boolean;

  @ApiProperty({ type: 'integer', example: 14_400 })
  @IsInt()
  @Min(60)
  @Max(MAX_RUNTIME_SECONDS)
  runtimeSeconds: number;

  @ApiPropertyOptional({ type: WindowDto })
  @IsOmittable()
  @IsObject()
  @ValidateNested()
  @Type(() => WindowDto)
  window?: WindowDto;

  @ApiPropertyOptional({ type: [String], example: ['eu-west'] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(64)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(LABEL, { each: true, message: 'each region must be a label (letters, digits, . _ : / -)' })
  regions?: string[];

  @ApiPropertyOptional({ type: [String], example: ['soc2'] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(32)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(LABEL, { each: true, message: 'each compliance tag must be a label (letters, digits, . _ : / -)' })
  compliance?: string[];

  @ApiPropertyOptional({ type: 'integer', example: 80 })
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(10_000)
  minGpuMemoryGb?: number;

  @ApiProperty({ type: WorkloadDto })
  @IsObject()
  @ValidateNested()
  @Type(() => WorkloadDto)
  workload: WorkloadDto;
}

export class ListBidsQueryDto {
  @ApiPropertyOptional({ enum: BID_STATUSES })
  @IsOmittable()
  @IsIn(BID_STATUSES as BidStatus[])
  status?: BidStatus;

  @ApiPropertyOptional({ type: 'integer', example: 50, description: '1-200, default 50' })
  @IsOmittable()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOmittable()
  @IsString()
  @MaxLength(200)
  cursor?: string;
}

export class OfferViewDto {
  @ApiProperty() gpuModel: string;
  @ApiProperty({ ...MONEY, example: '2.50' }) maxPrice: string;
}

export class WindowViewDto {
  @ApiProperty() notBefore: string;
  @ApiProperty() deadline: string;
}

export class BidLeaseDto {
  @ApiProperty() id: string;
  @ApiProperty() roundId: string;
  @ApiProperty() state: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty() allocatedAt: string;
  @ApiProperty({ nullable: true, type: String }) startedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) endedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) endReason: string | null;
}

export class BidDto {
  @ApiProperty() id: string;
  @ApiProperty() tenantId: string;
  @ApiProperty({ enum: BID_STATUSES }) status: BidStatus;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty({ type: [OfferViewDto] }) offers: OfferViewDto[];
  @ApiProperty({ enum: CONTIGUITIES }) contiguity: Contiguity;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({ type: 'integer' }) runtimeSeconds: number;
  @ApiProperty({ type: 'integer' }) remainingSeconds: number;
  @ApiProperty({ type: WindowViewDto, nullable: true }) window: WindowViewDto | null;
  @ApiProperty({ type: [String] }) regions: string[];
  @ApiProperty({ type: [String] }) compliance: string[];
  @ApiProperty({ type: 'integer' }) minGpuMemoryGb: number;
  @ApiProperty({ type: WorkloadDto }) workload: WorkloadDto;
  @ApiProperty({ nullable: true, type: String }) lastLossReason: string | null;
  @ApiPropertyOptional({
    type: [BidLeaseDto],
    description: 'the leases the bid has won, oldest first (GET /v1/bids/:id only)',
  })
  leases?: BidLeaseDto[];
  @ApiProperty({ nullable: true, type: String }) idempotencyKey: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class BidPageDto {
  @ApiProperty({ type: [BidDto] }) bids: BidDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'pass as ?cursor= for the next page; null on the last page',
  })
  nextCursor: string | null;
}
