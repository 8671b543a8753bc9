import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators.js';
import { PageQueryDto, RoundDto, RoundPageDto } from './market-read.dto.js';
import { MarketReadService } from './market-read.service.js';
import { MissedSlotsDto, MissedSlotsQueryDto } from './missed-slots.dto.js';
import { MissedSlotsService } from './missed-slots.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/rounds')
export class RoundsController {
  constructor(
    private readonly reads: MarketReadService,
    private readonly missedSlots: MissedSlotsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Clearing rounds, newest first (any role)' })
  @ApiOkResponse({ type: RoundPageDto })
  list(@Query() query: PageQueryDto): Promise<RoundPageDto> {
    return this.reads.rounds(query);
  }

  // Declared before ':id', which would otherwise take `missed-slots` for a round id.
  @Get('missed-slots')
  @Roles('admin')
  @ApiOperation({
    summary:
      'Slots of the round schedule that got no round, with why (not_run or late), in [from, to), oldest first (admin)',
  })
  @ApiOkResponse({ type: MissedSlotsDto })
  listMissedSlots(@Query() query: MissedSlotsQueryDto): Promise<MissedSlotsDto> {
    return this.missedSlots.list(query);
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
