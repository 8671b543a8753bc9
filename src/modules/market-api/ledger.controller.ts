import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.decorators.js';
import type { Principal } from '../auth/principal.js';
import { LedgerDto, LedgerQueryDto } from './market-read.dto.js';
import { MarketReadService } from './market-read.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/ledger')
export class LedgerController {
  constructor(private readonly reads: MarketReadService) {}

  @Get()
  @ApiOperation({
    summary: "Ledger entries and totals: a tenant's charges, a provider's payouts, everything for finance and admin",
  })
  @ApiOkResponse({ type: LedgerDto })
  ledger(@CurrentPrincipal() principal: Principal, @Query() query: LedgerQueryDto): Promise<LedgerDto> {
    return this.reads.ledger(principal, query);
  }
}
