import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { IsInstant, IsOmittable } from '../../platform/http/validators.js';
import { PageQueryDto } from '../../platform/http/page-query.dto.js';
import { API_KEY_ACTIONS, type ApiKeyAction } from './api-key-events.repository.js';
import { ROLES, type Role } from './principal.js';

/** The longest grace a rotated key may keep working, as for webhook secrets. */
export const MAX_KEY_GRACE_SECONDS = 7 * 86_400;

export type ApiKeyStatus = 'active' | 'expired' | 'revoked';
export const API_KEY_STATUSES: readonly ApiKeyStatus[] = ['active', 'expired', 'revoked'];

export class CreateApiKeyDto {
  @ApiPropertyOptional({
    enum: ROLES,
    description:
      'required for admin callers (tenant and provider keys also need tenantId / providerId); a tenant or provider key issues keys of its own role only, for itself, and may leave it out',
  })
  @IsOmittable()
  @IsIn(ROLES as Role[])
  role?: Role;

  @ApiProperty({ example: 'ci deploys', description: '1-200 characters; ADMIN_API_KEY is reserved' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'admin: the tenant of a tenant key; a tenant may name only itself',
  })
  @IsOmittable()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: 'admin: the provider of a provider key; a provider may name only itself',
  })
  @IsOmittable()
  @IsUUID()
  providerId?: string;

  @ApiPropertyOptional({
    example: '2027-01-01T00:00:00Z',
    description: 'when the key stops working; in the future; omitted: never',
  })
  @IsOmittable()
  @IsInstant()
  expiresAt?: string;
}

export class ListApiKeysQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES as Role[])
  role?: Role;

  @ApiPropertyOptional({ format: 'uuid', description: "admin: one tenant's keys" })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "admin: one provider's keys" })
  @IsOptional()
  @IsUUID()
  providerId?: string;

  @ApiPropertyOptional({ enum: API_KEY_STATUSES })
  @IsOptional()
  @IsIn(API_KEY_STATUSES as ApiKeyStatus[])
  status?: ApiKeyStatus;
}

export class RotateApiKeyQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    example: 3600,
    description: `how long the old key keeps working, 0-${MAX_KEY_GRACE_SECONDS} s; default 0: revoked at once`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_KEY_GRACE_SECONDS)
  graceSeconds?: number;
}

export class ApiKeyAuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  keyId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "changes to one tenant's keys" })
  @IsOptional()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ format: 'uuid', description: "changes to one provider's keys" })
  @IsOptional()
  @IsUUID()
  providerId?: string;

  @ApiPropertyOptional({ enum: API_KEY_ACTIONS })
  @IsOptional()
  @IsIn(API_KEY_ACTIONS as ApiKeyAction[])
  action?: ApiKeyAction;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ROLES }) role: Role;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'the tenant a tenant key acts for' })
  tenantId: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'the provider a provider key acts for' })
  providerId: string | null;
  @ApiProperty({
    example: 'gm_Xk3v9Qa',
    description: 'the first characters of the key, to recognise it; the rest is never shown again',
  })
  prefix: string;
  @ApiProperty({ enum: API_KEY_STATUSES }) status: ApiKeyStatus;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expiresAt: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'accurate to about a minute (written at most once a minute per key)',
  })
  lastUsedAt: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) revokedAt: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description: 'the key that replaced this one when it was rotated',
  })
  replacedBy: string | null;
}

export class ApiKeyCreatedDto extends ApiKeyDto {
  @ApiProperty({ example: 'gm_…', description: 'the secret; shown once, only its hash is stored' }) apiKey: string;
}

export class ApiKeyRotatedDto extends ApiKeyCreatedDto {
  @ApiProperty({ format: 'uuid', description: 'the key this one replaces' }) replaces: string;
  @ApiProperty({
    format: 'date-time',
    description: 'when the replaced key stops working: now, or after the grace period',
  })
  previousKeyStopsAt: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ type: [ApiKeyDto] }) apiKeys: ApiKeyDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class ApiKeyEventDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: API_KEY_ACTIONS }) action: ApiKeyAction;
  @ApiProperty({ format: 'uuid' }) keyId: string;
  @ApiProperty() keyName: string;
  @ApiProperty({ enum: ROLES }) keyRole: Role;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) tenantId: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) providerId: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description:
      "the key that made the change; null: the service itself (start-up, a new tenant's or provider's first key)",
  })
  actorKeyId: string | null;
  @ApiProperty({ nullable: true, enum: ROLES }) actorRole: Role | null;
  @ApiProperty({ nullable: true, type: String }) actorName: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'uuid',
    description: "rotated: the new key; a rotation's created: the key it replaces",
  })
  relatedKeyId: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'created: name, role, owner, expiresAt; rotated: graceSeconds, previousKeyStopsAt',
  })
  details: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
}

export class ApiKeyEventPageDto {
  @ApiProperty({ type: [ApiKeyEventDto] }) events: ApiKeyEventDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}
