import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
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
  @ApiPropertyOptional({ example: 25, description: `0-${MAX_WAIT_SECONDS}, default 0: seconds to wait for an order when none is queued` })
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

  @ApiPropertyOptional({ example: [0, 1], description: 'the GPU indices (nvidia-smi order) the workload got' })
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
