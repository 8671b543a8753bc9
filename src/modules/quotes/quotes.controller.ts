import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators.js';
import { CreateBidDto } from '../bids/bid.dto.js';
import { QuoteDto } from './quote.dto.js';
import { QuotesService } from './quotes.service.js';

@ApiTags('market')
@ApiBearerAuth()
@Controller('v1/quotes')
@Roles('tenant')
export class QuotesController {
  constructor(private readonly quotes: QuotesService) {}

  /** 200: a quote is computed, never stored, so repeating it is harmless. */
  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'What every option of a bid (same body and rules as POST /v1/bids) costs to win at the latest node prices: each offer, contiguity tier, preemptible or not, now or within its window; nothing is stored',
  })
  @ApiOkResponse({ type: QuoteDto })
  quote(@Body() body: CreateBidDto): Promise<QuoteDto> {
    return this.quotes.quote(body);
  }
}
