import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators.js';
import { CreateProviderDto, ProviderCreatedDto, ProviderDto } from './provider.dto.js';
import { ProvidersService } from './providers.service.js';

@ApiTags('providers')
@ApiBearerAuth()
@Controller('v1/providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @Post()
  @Roles('admin')
  create(@Body() body: CreateProviderDto): Promise<ProviderCreatedDto> {
    return this.providers.create(body.name, body.adapter);
  }

  @Get()
  @Roles('admin', 'finance')
  list(): Promise<ProviderDto[]> {
    return this.providers.list();
  }
}
