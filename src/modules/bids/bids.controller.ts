import { Body, Controller, Delete, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, Roles } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import { BidDto, BidPageDto, CreateBidDto, ListBidsQueryDto } from './bid.dto.js';
import { BidsService } from './bids.service.js';

@ApiTags('bids')
@ApiBearerAuth()
@Controller('v1/bids')
@Roles('tenant')
export class BidsController {
  constructor(private readonly bids: BidsService) {}

  /** 201 with a new bid; 200 with the earlier bid when the Idempotency-Key repeats the same request. */
  @Post()
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiCreatedResponse({ type: BidDto })
  @ApiOkResponse({ type: BidDto, description: 'the earlier bid, when the Idempotency-Key repeats the same request' })
  async submit(
    @CurrentPrincipal() principal: Principal,
    @Body() body: CreateBidDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<BidDto> {
    const { bid, created } = await this.bids.submit(principal.tenantId!, body, idempotencyKey);
    response.status(created ? 201 : 200);
    return bid;
  }

  @Get()
  @ApiOkResponse({ type: BidPageDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListBidsQueryDto): Promise<BidPageDto> {
    return this.bids.list(principal.tenantId!, query);
  }

  @Get(':id')
  @ApiOkResponse({ type: BidDto })
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<BidDto> {
    return this.bids.get(principal.tenantId!, id);
  }

  /** Cancels the bid; 409 when it has already finished. */
  @Delete(':id')
  @ApiOkResponse({ type: BidDto })
  cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<BidDto> {
    return this.bids.cancel(principal.tenantId!, id);
  }
}
