import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MarketPricesDto } from './market-read.dto.js';
import { MarketReadService } from './market-read.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/market/prices')
export class MarketPricesController {
  constructor(private readonly reads: MarketReadService) {}

  @Get()
  @ApiOperation({
    summary:
      'Latest committed price per pool (gpuModel x region), its marginal bid, supply and free GPUs now (any role)',
  })
  @ApiOkResponse({ type: MarketPricesDto })
  prices(): Promise<MarketPricesDto> {
    return this.reads.prices();
  }
}
