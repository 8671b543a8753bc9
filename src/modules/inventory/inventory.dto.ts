import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsPositive,
  IsString,
  Matches,
  Max,
  Min,
  IsObject,
  ValidateNested,
} from 'class-validator';
import { IsOmittable, IsPrice, LABEL } from '../../platform/http/validators.js';
import {
  GPU_UNAVAILABLE_REASONS,
  type GpuUnavailableReason,
  NODE_HEALTHS,
  type NodeHealth,
} from '../../core/market/node-health.js';
import { NODE_STATES, type NodeState } from './node-state.js';

export const MAX_NODE_GPUS = 64;
export const MAX_RESERVE_PRICE = '10000';

export class CreateGpuModelDto {
  @ApiProperty({ example: 'GB200-NVL-186GB' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    message: 'name must be 1-64 letters, digits, dots, dashes or underscores',
  })
  name: string;

  @ApiProperty({ type: 'integer', example: 186 })
  @IsInt()
  @Min(1)
  @Max(10_000)
  memoryGb: number;

  @ApiProperty({ example: 2500, description: 'dense BF16 tensor TFLOP/s' })
  @IsNumber({ maxDecimalPlaces: 2, allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1_000_000)
  bf16Tflops: number;

  @ApiProperty({ example: 8, description: 'memory bandwidth in TB/s' })
  @IsNumber({ maxDecimalPlaces: 3, allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1_000)
  memoryBandwidthTBs: number;
}

export class GpuModelDto {
  @ApiProperty() name: string;
  @ApiProperty({ type: 'integer' }) memoryGb: number;
  @ApiProperty() bf16Tflops: number;
  @ApiProperty() memoryBandwidthTBs: number;
}

export class NodeInputDto {
  @ApiProperty({
    example: 'gpu-node-017',
    description: "the provider's own name for the node (Slurm node, Kubernetes node, agent host)",
  })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,199}$/, { message: 'externalId must be 1-200 characters without spaces' })
  externalId: string;

  @ApiProperty({ example: 'H100-SXM-80GB' })
  @IsString()
  gpuModel: string;

  @ApiProperty({ type: 'integer', example: 8 })
  @IsInt()
  @Min(1)
  @Max(MAX_NODE_GPUS)
  gpus: number;

  @ApiProperty({ example: 'eu-west' })
  @IsString()
  @Matches(LABEL, { message: 'region must be a label (letters, digits, . _ : / -)' })
  region: string;

  @ApiProperty({ example: 'ib-leaf-3', description: 'the high-bandwidth fabric block the node sits in' })
  @IsString()
  @Matches(LABEL, { message: 'block must be a label (letters, digits, . _ : / -)' })
  block: string;

  @ApiPropertyOptional({
    description: 'shared by the nodes of one NVLink domain (an NVL72 rack); defaults to the node itself',
  })
  @IsOmittable()
  @IsString()
  @Matches(LABEL, { message: 'nvlinkDomain must be a label (letters, digits, . _ : / -)' })
  nvlinkDomain?: string;

  @ApiPropertyOptional({ type: [String], example: ['soc2'] })
  @IsOmittable()
  @IsArray()
  @ArrayMaxSize(32)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(LABEL, { each: true, message: 'each compliance tag must be a label (letters, digits, . _ : / -)' })
  compliance?: string[];

  @ApiProperty({
    type: 'string',
    pattern: '^\\d+(\\.\\d{1,4})?$',
    example: '1.80',
    description:
      "the provider's ask per GPU-hour: a decimal string with at most 4 decimals (a JSON number is also accepted)",
  })
  @IsPrice({ min: '0', max: MAX_RESERVE_PRICE })
  reservePrice: string | number;
}

export class PutNodesDto {
  @ApiProperty({ type: [NodeInputDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  // An element that is itself an array would pass ValidateNested (it validates the inner elements).
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => NodeInputDto)
  nodes: NodeInputDto[];
}

export class PatchNodeDto {
  @ApiPropertyOptional({ enum: NODE_STATES })
  @IsOmittable()
  @IsIn(NODE_STATES as NodeState[])
  state?: NodeState;

  @ApiPropertyOptional({ type: 'string', pattern: '^\\d+(\\.\\d{1,4})?$', example: '2.10' })
  @IsOmittable()
  @IsPrice({ min: '0', max: MAX_RESERVE_PRICE })
  reservePrice?: string | number;
}

export class UnavailableGpuDto {
  @ApiProperty({ type: 'integer', example: 3, description: 'nvidia-smi index' }) index: number;
  @ApiProperty({ enum: GPU_UNAVAILABLE_REASONS, example: 'ecc' }) reason: GpuUnavailableReason;
}

export class NodeDto {
  @ApiProperty() id: string;
  @ApiProperty() providerId: string;
  @ApiProperty() externalId: string;
  @ApiProperty() gpuModel: string;
  @ApiProperty({ type: 'integer' }) gpuMemoryGb: number;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty() region: string;
  @ApiProperty() block: string;
  @ApiProperty() nvlinkDomain: string;
  @ApiProperty({ type: [String] }) compliance: string[];
  @ApiProperty({ type: 'string', pattern: '^\\d+(\\.\\d{1,4})?$', example: '1.80' }) reservePrice: string;
  @ApiProperty({ enum: NODE_STATES }) state: NodeState;
  @ApiProperty({
    enum: NODE_HEALTHS,
    description:
      "from the node agent's heartbeats: `ok`; `unreachable` (silent for HEARTBEAT_UNREACHABLE_SECONDS: fenced, takes no placements); `never_seen` (no agent ever reported: Slurm, Kubernetes and simulated fleets, never fenced)",
  })
  health: NodeHealth;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '2026-12-06T20:41:56.000Z',
    description: 'the last heartbeat or order poll of its agent',
  })
  lastHeartbeatAt: string | null;
  @ApiProperty({
    type: () => [UnavailableGpuDto],
    description: 'GPUs the agent reported unusable; the market sells only the others',
  })
  unavailableGpus: UnavailableGpuDto[];
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class NodeListDto {
  @ApiProperty({ type: [NodeDto] }) nodes: NodeDto[];
}
