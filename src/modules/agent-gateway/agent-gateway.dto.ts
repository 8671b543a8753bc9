import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { AGENT_GPU_REASONS, type AgentGpuReason } from '../../core/market/node-health.js';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';

/** The longest long poll: below the usual 60 s idle timeout of proxies in front of the market. */
export const MAX_WAIT_SECONDS = 30;

export class AgentNodeQueryDto {
  @ApiProperty({ example: 'gpu-017', description: "the node's externalId, as registered with PUT /v1/nodes" })
  @IsString()
  @Length(1, 200)
  node: string;
}

export class AgentOrdersQueryDto extends AgentNodeQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    example: 25,
    description: `0-${MAX_WAIT_SECONDS}, default 0: seconds to wait for an order when none is queued`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_WAIT_SECONDS)
  waitSeconds?: number;
}

export class AgentAckErrorDto {
  @ApiProperty({ enum: ['retryable', 'permanent'] })
  @IsIn(['retryable', 'permanent'])
  kind: 'retryable' | 'permanent';

  @ApiProperty({ example: 'GPUs 0-3 are still held by a lease in its notice' })
  @IsString()
  @MaxLength(2000)
  message: string;
}

export class AgentAckDto {
  @ApiProperty({ description: 'true: the order was carried out; false: refused, with `error`' })
  @IsBoolean()
  ok: boolean;

  @ApiPropertyOptional({ example: 'gpu-017/3f0c...' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  handle?: string;

  @ApiPropertyOptional({
    type: 'integer',
    isArray: true,
    example: [0, 1],
    description: 'the GPU indices (nvidia-smi order) the workload got',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1024)
  @IsInt({ each: true })
  @Min(0, { each: true })
  gpuIndices?: number[];

  @ApiPropertyOptional({ type: AgentAckErrorDto, description: 'required when ok is false' })
  @ValidateIf((ack: AgentAckDto) => ack.ok !== true)
  @IsDefined()
  @ValidateNested()
  @Type(() => AgentAckErrorDto)
  error?: AgentAckErrorDto;
}

export class HeartbeatGpuDto {
  @ApiProperty({
    type: 'integer',
    example: 3,
    description: 'nvidia-smi index; below the GPU count the node was registered with',
  })
  @IsInt()
  @Min(0)
  @Max(1023)
  index: number;

  @ApiPropertyOptional({ example: 'GPU-5f0d4c8e-...' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  uuid?: string;

  @ApiProperty({ description: 'false: the market stops selling this GPU until a heartbeat reports it available again' })
  @IsBoolean()
  available: boolean;

  @ApiPropertyOptional({ enum: AGENT_GPU_REASONS, description: 'why the GPU is unavailable; `unhealthy` when omitted' })
  @IsOptional()
  @IsIn(AGENT_GPU_REASONS as AgentGpuReason[])
  reason?: AgentGpuReason;
}

export class AgentHeartbeatDto {
  @ApiProperty({ example: 'gpu-017', description: "the node's externalId, as registered with PUT /v1/nodes" })
  @IsString()
  @Length(1, 200)
  node: string;

  @ApiPropertyOptional({
    type: [HeartbeatGpuDto],
    description: "the node's GPUs as the agent sees them; omitted: the GPUs' availability is left as it was",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1024)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => HeartbeatGpuDto)
  gpus?: HeartbeatGpuDto[];
}

export class AgentHeartbeatResponseDto {
  @ApiProperty({ type: 'integer', example: 15, description: 'how often the market wants a heartbeat' })
  heartbeatIntervalSeconds: number;

  @ApiProperty({
    type: 'integer',
    example: 45,
    description: 'after this long without a heartbeat or order poll the node is fenced (HEARTBEAT_UNREACHABLE_SECONDS)',
  })
  unreachableAfterSeconds: number;
}
