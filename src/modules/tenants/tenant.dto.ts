import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';

export class CreateTenantDto {
  @ApiProperty({ example: 'acme-research' })
  @IsString()
  @Length(1, 200)
  name: string;
}

export class TenantCreatedDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: "the tenant's API key; shown once, only its hash is stored" }) apiKey: string;
}

export class TenantDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty() createdAt: string;
}
