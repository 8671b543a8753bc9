import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';
import { ADAPTER_KINDS, type AdapterKind } from '../dispatch/adapters/provider-adapter.js';

export class CreateProviderDto {
  @ApiProperty({ example: 'north-dc' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ enum: ADAPTER_KINDS, description: "how the market launches work on this provider's fleet" })
  @IsIn(ADAPTER_KINDS as AdapterKind[])
  adapter: AdapterKind;
}

export class ProviderCreatedDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ADAPTER_KINDS }) adapter: AdapterKind;
  @ApiProperty({ description: "the provider's API key; shown once, only its hash is stored" }) apiKey: string;
}

export class ProviderDto {
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ADAPTER_KINDS }) adapter: AdapterKind;
  @ApiProperty() createdAt: string;
}
