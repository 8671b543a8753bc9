import { ApiProperty, ApiPropertyOptional, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';
import { CreateBidDto, MONEY, WorkloadDto } from '../bids/bid.dto.js';
import { IsOmittable } from '../../platform/http/validators.js';

export const MAX_SERVICE_REPLICAS = 64;
const DAY = 86_400;

/** What every replica bids: the fields and rules of a bid (POST /v1/bids), without run time, window or workload. */
export class ReplicaSpecDto extends PickType(CreateBidDto, [
  'gpus',
  'offers',
  'contiguity',
  'preemptible',
  'regions',
  'compliance',
  'minGpuMemoryGb',
] as const) {}

/** A bid's workload fields and rules (image, command, env), and what a served workload adds. */
export class ServiceWorkloadDto extends PickType(WorkloadDto, ['image', 'command', 'env'] as const) {
  @ApiProperty({
    type: 'integer',
    example: 8080,
    description:
      'the port the workload listens on; it is also told in PORT (on a shared host the platform may pick another and say so in PORT)',
  })
  @IsInt()
  @Min(1)
  @Max(65_535)
  port: number;

  @ApiPropertyOptional({ example: '/healthz', description: 'answers 200 when a replica can take requests; default /' })
  @IsOmittable()
  @IsString()
  @Length(1, 512)
  @Matches(/^\/[\x21-\x7e]*$/, { message: 'readinessPath must be a path starting with /' })
  readinessPath?: string;
}

/** The scaling settings, shared by create and PATCH. */
class ScalingFieldsDto {
  @ApiPropertyOptional({ type: 'integer', description: '0-64, default 0 (scale to zero)' })
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(MAX_SERVICE_REPLICAS)
  minReplicas?: number;

  @ApiPropertyOptional({ type: 'integer', description: '1-64, at least minReplicas; default 1' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(MAX_SERVICE_REPLICAS)
  maxReplicas?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'in-flight requests per replica, 1-10000, default 1' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(10_000)
  targetConcurrency?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'seconds, default 300' })
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(DAY)
  scaleDownDelaySeconds?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'seconds without requests before the last replica ends, default 600',
  })
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(7 * DAY)
  scaleToZeroAfterSeconds?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'requests held while no replica is ready, default 100' })
  @IsOmittable()
  @IsInt()
  @Min(0)
  @Max(10_000)
  maxPendingRequests?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'seconds a held request waits before 504, default 120' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(3600)
  pendingTimeoutSeconds?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'the autoscaler stable window, seconds, default 60' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(3600)
  stableWindowSeconds?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'the autoscaler panic window, seconds, at most the stable window, default 6',
  })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(3600)
  panicWindowSeconds?: number;
}

export class CreateServiceDto extends ScalingFieldsDto {
  @ApiProperty({ example: 'llm-chat' })
  @IsString()
  @Matches(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: 'name must be 1-63 lowercase letters, digits and -, starting and ending with a letter or digit',
  })
  name: string;

  @ApiProperty({ type: ReplicaSpecDto })
  @IsObject()
  @ValidateNested()
  @Type(() => ReplicaSpecDto)
  replica: ReplicaSpecDto;

  @ApiProperty({ type: ServiceWorkloadDto })
  @IsObject()
  @ValidateNested()
  @Type(() => ServiceWorkloadDto)
  workload: ServiceWorkloadDto;
}

export class UpdateServiceDto extends ScalingFieldsDto {}

export class ServiceReplicaViewDto {
  @ApiProperty() id: string;
  @ApiProperty({ type: 'integer' }) rank: number;
  @ApiProperty({ enum: ['bidding', 'starting', 'ready', 'noticed', 'draining', 'ended'] }) state: string;
  @ApiProperty({ nullable: true, type: String }) bidId: string | null;
  @ApiProperty({ nullable: true, type: String }) leaseId: string | null;
  @ApiProperty({ nullable: true, type: String }) leaseState: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'host:port, once ready' }) endpoint: string | null;
  @ApiProperty({
    ...MONEY,
    description: "limit price per GPU-hour of this replica's first offer (src/core/services/replica-value.ts)",
  })
  maxPrice: string;
  @ApiProperty({ type: 'integer' }) inFlight: number;
  @ApiProperty() requestedAt: string;
  @ApiProperty({ nullable: true, type: String }) readyAt: string | null;
}

export class ScalingDecisionViewDto {
  @ApiProperty() decidedAt: string;
  @ApiProperty({ type: 'integer' }) from: number;
  @ApiProperty({ type: 'integer' }) to: number;
  @ApiProperty() reason: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) inputs: Record<string, unknown>;
}

export class ColdStartViewDto {
  @ApiProperty() replicaId: string;
  @ApiProperty() fromZero: boolean;
  @ApiProperty() requestedAt: string;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'replica bid recorded -> the round that placed it committed',
  })
  marketWaitMs: number | null;
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'round committed -> process spawned (outbox, queue, adapter)',
  })
  dispatchMs: number | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'process spawned -> first connection accepted' })
  processStartMs: number | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'first connection -> readiness path answered 200' })
  readinessMs: number | null;
  @ApiProperty({ type: 'integer' }) totalMs: number;
}

export class ServiceTrafficViewDto {
  @ApiProperty({ type: 'integer', description: 'requests authorised by the gateway' }) requests: number;
  @ApiProperty({ type: 'integer', description: 'answered 503: the pending queue was full' }) rejected: number;
  @ApiProperty({ type: 'integer', description: 'answered 504: no replica was ready within pendingTimeoutSeconds' })
  timedOut: number;
}

export class ServiceTrafficMinuteDto {
  @ApiProperty({ example: '2026-12-06T12:34:00.000Z', description: 'the minute the counts were stored in' })
  minute: string;
  @ApiProperty({ type: 'integer' }) requests: number;
  @ApiProperty({ type: 'integer' }) rejected: number;
  @ApiProperty({ type: 'integer' }) timedOut: number;
}

export class ServiceUsageDto {
  @ApiProperty({ type: 'integer', description: "GPU-seconds its replicas' leases have been charged for so far" })
  gpuSeconds: number;
  @ApiProperty({
    type: 'string',
    example: '1.234567',
    description: "what they were charged, an exact decimal (settled up to each lease's last round)",
  })
  charged: string;
  @ApiProperty({ type: 'integer', description: 'scale-ups within twice the scale-down delay of a scale-down' })
  flaps: number;
}

export class ServiceDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'where to send requests: <url>/<path> reaches <path> on a replica' }) url: string;
  @ApiProperty({ enum: ['active', 'deleting', 'deleted'] }) state: string;
  @ApiProperty({ type: ReplicaSpecDto }) replica: Record<string, unknown>;
  @ApiProperty({ type: ServiceWorkloadDto }) workload: Record<string, unknown>;
  @ApiProperty({ type: 'integer' }) minReplicas: number;
  @ApiProperty({ type: 'integer' }) maxReplicas: number;
  @ApiProperty({ type: 'integer' }) targetConcurrency: number;
  @ApiProperty({ type: 'integer' }) scaleDownDelaySeconds: number;
  @ApiProperty({ type: 'integer' }) scaleToZeroAfterSeconds: number;
  @ApiProperty({ type: 'integer' }) maxPendingRequests: number;
  @ApiProperty({ type: 'integer' }) pendingTimeoutSeconds: number;
  @ApiProperty({ type: 'integer' }) stableWindowSeconds: number;
  @ApiProperty({ type: 'integer' }) panicWindowSeconds: number;
  @ApiProperty({ type: 'integer' }) desiredReplicas: number;
  @ApiProperty({ type: 'integer' }) readyReplicas: number;
  @ApiProperty({ type: 'integer', description: 'requests held by this gateway now' }) pendingRequests: number;
  @ApiProperty({
    type: ServiceTrafficViewDto,
    description:
      "counts since the service was created, of every market process (each stores its gateway's counts about every second)",
  })
  traffic: ServiceTrafficViewDto;
  @ApiPropertyOptional({
    type: [ServiceTrafficMinuteDto],
    description:
      'GET /v1/services/:id only: the stored counts per minute over the last hour (minutes with none left out)',
  })
  trafficByMinute?: ServiceTrafficMinuteDto[];
  @ApiProperty() invokeKeyPrefix: string;
  @ApiPropertyOptional({ description: 'the per-service invoke key: shown once, in the answer to POST' })
  invokeKey?: string;
  @ApiPropertyOptional({ type: [ServiceReplicaViewDto] }) replicas?: ServiceReplicaViewDto[];
  @ApiPropertyOptional({ type: ServiceUsageDto, description: 'GET /v1/services/:id only' }) usage?: ServiceUsageDto;
  @ApiPropertyOptional({ type: [ScalingDecisionViewDto] }) decisions?: ScalingDecisionViewDto[];
  @ApiPropertyOptional({ type: [ColdStartViewDto] }) coldStarts?: ColdStartViewDto[];
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}
