import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PageQueryDto, RoundDto, RoundPageDto } from './market-read.dto.js';
import { MarketReadService } from './market-read.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/rounds')
export class RoundsController {
  constructor(private readonly reads: MarketReadService) {}

  @Get()
  @ApiOperation({ summary: 'Clearing rounds, newest first (any role)' })
  @ApiOkResponse({ type: RoundPageDto })
  list(@Query() query: PageQueryDto): Promise<RoundPageDto> {
    return this.reads.rounds(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'One round: prices per pool with the marginal bid, counts, welfare, bound, gap, solver, phase timings',
  })
  @ApiOkResponse({ type: RoundDto })
  get(@Param('id') id: string): Promise<RoundDto> {
    return this.reads.round(id);
  }
}
