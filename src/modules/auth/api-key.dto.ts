import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, IsUUID, Length } from 'class-validator';
import { IsOmittable } from '../../platform/http/validators.js';
import { ROLES, type Role } from './principal.js';

export class CreateApiKeyDto {
  @ApiProperty({ enum: ROLES, description: 'tenant and provider keys also need tenantId / providerId' })
  @IsIn(ROLES as Role[])
  role: Role;

  @ApiProperty({ example: 'finance team' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOmittable()
  @IsUUID()
  tenantId?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOmittable()
  @IsUUID()
  providerId?: string;
}

export class ApiKeyCreatedDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ROLES }) role: Role;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'shown once; only its hash is stored' }) apiKey: string;
}
