import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import { LeaseDto, LeasePageDto, LeaseStatusReportDto, ListLeasesQueryDto } from './market-read.dto.js';
import { MarketReadService } from './market-read.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/leases')
export class LeasesController {
  constructor(private readonly reads: MarketReadService) {}

  @Get()
  @ApiOperation({
    summary: "Leases, newest first: a tenant's own, those on a provider's nodes, all for admin and finance",
  })
  @ApiOkResponse({ type: LeasePageDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListLeasesQueryDto): Promise<LeasePageDto> {
    return this.reads.leases(principal, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One lease with its nodes and unit prices; 404 when the caller may not see it' })
  @ApiOkResponse({ type: LeaseDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<LeaseDto> {
    return this.reads.lease(principal, id);
  }

  @Post(':id/status')
  @HttpCode(200)
  @Roles('provider')
  @ApiOperation({
    summary: "A provider's report on the workload of a lease on its nodes (pushing adapters); 404 for other leases",
  })
  @ApiOkResponse({ type: LeaseDto })
  report(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body() body: LeaseStatusReportDto,
  ): Promise<LeaseDto> {
    return this.reads.report(principal, id, body);
  }
}
