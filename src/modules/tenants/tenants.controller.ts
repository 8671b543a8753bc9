import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators.js';
import { CreateTenantDto, TenantCreatedDto, TenantDto } from './tenant.dto.js';
import { TenantsService } from './tenants.service.js';

@ApiTags('tenants')
@ApiBearerAuth()
@Controller('v1/tenants')
export class TenantsController {
  constructor(private readonly tenants: TenantsService) {}

  @Post()
  @Roles('admin')
  create(@Body() body: CreateTenantDto): Promise<TenantCreatedDto> {
    return this.tenants.create(body.name);
  }

  @Get()
  @Roles('admin', 'finance')
  list(): Promise<TenantDto[]> {
    return this.tenants.list();
  }
}
