import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiKeyCreatedDto, CreateApiKeyDto } from './api-key.dto.js';
import { ApiKeyService } from './api-key.service.js';
import { Roles } from './auth.decorators.js';

@ApiTags('api keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
@Roles('admin')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeyService) {}

  /** Issues a further key: finance and admin keys, or more keys for an existing tenant or provider. */
  @Post()
  create(@Body() body: CreateApiKeyDto): Promise<ApiKeyCreatedDto> {
    return this.apiKeys.create(body);
  }
}
