import { Body, Controller, Delete, Get, Param, Patch, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import { CreateServiceDto, ServiceDto, UpdateServiceDto } from './service.dto.js';
import { ServicesService } from './services.service.js';

/** The base the service URLs start with: as the caller reached this server. */
function baseUrl(request: Request): string {
  return `${request.protocol}://${request.get('host') ?? 'localhost'}`;
}

@ApiTags('services')
@ApiBearerAuth()
@Controller('v1/services')
@Roles('tenant')
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  /** 201 with the service, its url and (only here) its invoke key. */
  @Post()
  @ApiCreatedResponse({ type: ServiceDto })
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateServiceDto,
    @Req() request: Request,
  ): Promise<ServiceDto> {
    return this.services.create(principal.tenantId!, body, baseUrl(request));
  }

  @Get()
  @ApiOkResponse({ type: [ServiceDto] })
  async list(@CurrentPrincipal() principal: Principal, @Req() request: Request): Promise<{ services: ServiceDto[] }> {
    return { services: await this.services.list(principal.tenantId!, baseUrl(request)) };
  }

  /** With its replicas (lease, endpoint), its last scaling decisions and its last cold starts. */
  @Get(':id')
  @ApiOkResponse({ type: ServiceDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() request: Request): Promise<ServiceDto> {
    return this.services.get(principal.tenantId!, id, baseUrl(request));
  }

  @Patch(':id')
  @ApiOkResponse({ type: ServiceDto })
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: UpdateServiceDto,
    @Req() request: Request,
  ): Promise<ServiceDto> {
    return this.services.update(principal.tenantId!, id, body, baseUrl(request));
  }

  /** Stops taking requests; every replica drains (in-flight requests finish), then ends. */
  @Delete(':id')
  @ApiOkResponse({ type: ServiceDto })
  remove(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Req() request: Request,
  ): Promise<ServiceDto> {
    return this.services.remove(principal.tenantId!, id, baseUrl(request));
  }
}
