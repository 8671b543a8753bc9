import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import {
  ApiKeyAuditQueryDto,
  ApiKeyCreatedDto,
  ApiKeyDto,
  ApiKeyEventPageDto,
  ApiKeyPageDto,
  ApiKeyRotatedDto,
  CreateApiKeyDto,
  ListApiKeysQueryDto,
  RotateApiKeyQueryDto,
} from './api-key.dto.js';
import { ApiKeysService } from './api-keys.service.js';
import { CurrentPrincipal, Roles } from './auth.decorators.js';
import type { Principal } from './principal.js';

/** Admin manages every key; a tenant or provider key manages its own owner's keys (others' are 404). */
@ApiTags('api keys')
@ApiBearerAuth()
@Controller('v1/api-keys')
@Roles('admin', 'tenant', 'provider')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Get()
  @ApiOperation({ summary: 'Keys, newest first, revoked and expired ones included; never a secret' })
  @ApiOkResponse({ type: ApiKeyPageDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListApiKeysQueryDto): Promise<ApiKeyPageDto> {
    return this.apiKeys.list(principal, query);
  }

  @Post()
  @ApiOperation({ summary: 'Issues a key; the answer carries its secret, shown this once' })
  @ApiCreatedResponse({ type: ApiKeyCreatedDto })
  create(@CurrentPrincipal() principal: Principal, @Body() body: CreateApiKeyDto): Promise<ApiKeyCreatedDto> {
    return this.apiKeys.create(principal, body);
  }

  @Get('audit')
  @Roles('admin', 'finance')
  @ApiOperation({ summary: 'Every change to a key (created, revoked, rotated): who, when, which key; newest first' })
  @ApiOkResponse({ type: ApiKeyEventPageDto })
  audit(@Query() query: ApiKeyAuditQueryDto): Promise<ApiKeyEventPageDto> {
    return this.apiKeys.audit(query);
  }

  @Get(':id')
  @ApiOkResponse({ type: ApiKeyDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ApiKeyDto> {
    return this.apiKeys.get(principal, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revokes the key: refused from now on here, within API_KEY_CACHE_SECONDS on other replicas',
  })
  @ApiNoContentResponse()
  revoke(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<void> {
    return this.apiKeys.revoke(principal, id);
  }

  @Post(':id/rotate')
  @ApiOperation({
    summary:
      'A new key with the same name, role, owner and expiry; the old one is revoked at once or after graceSeconds',
  })
  @ApiCreatedResponse({ type: ApiKeyRotatedDto })
  rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query() query: RotateApiKeyQueryDto,
  ): Promise<ApiKeyRotatedDto> {
    return this.apiKeys.rotate(principal, id, query);
  }
}
