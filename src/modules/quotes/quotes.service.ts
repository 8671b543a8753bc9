import { Injectable } from '@nestjs/common';
import { formatPrice, type Money, toMoney } from '../../core/money/money.js';
import type { CreateBidDto } from '../bids/bid.dto.js';
import { BidsService } from '../bids/bids.service.js';
import { MarketReadRepository } from '../market/market-read.repository.js';
import type { OfferQuoteDto, QuoteDto, QuotePoolDto } from './quote.dto.js';
import { estimatePool, largestFreeGroup } from './quote-pricing.js';

/** What a bid would meet if it were submitted now; nothing is stored. */
@Injectable()
export class QuotesService {
  constructor(
    private readonly bids: BidsService,
    private readonly reads: MarketReadRepository,
  ) {}

  async quote(input: CreateBidDto, now: Date = new Date()): Promise<QuoteDto> {
    await this.bids.check(input, now);
    const offers: OfferQuoteDto[] = [];
    for (const offer of input.offers) offers.push(await this.quoteOffer(input, offer.gpuModel, toMoney(offer.maxPrice)));
    return { quotedAt: now.toISOString(), gpus: input.gpus, runtimeSeconds: input.runtimeSeconds, preemptible: input.preemptible, offers };
  }

  private async quoteOffer(input: CreateBidDto, gpuModel: string, limit: Money): Promise<OfferQuoteDto> {
    const regions = input.regions ?? [];
    const allowed = (region: string) => regions.length === 0 || regions.includes(region);
    const pools = (await this.reads.poolsNow(gpuModel)).filter((p) => allowed(p.region) && p.reserveFloor !== null);
    const nodes = (await this.reads.freeNodes(gpuModel)).map((n) => ({ ...n, reservePrice: toMoney(n.reservePrice) }));
    const constraints = { contiguity: input.contiguity, compliance: input.compliance ?? [], minGpuMemoryGb: input.minGpuMemoryGb ?? 0, limit };

    const quoted = await Promise.all(
      pools.map(async (pool) => {
        const current = pool.price === null ? null : toMoney(pool.price);
        const price = current ?? toMoney(pool.reserveFloor!);
        const group = largestFreeGroup(nodes.filter((n) => n.region === pool.region), constraints);
        const history = (await this.reads.priceHistory(gpuModel, pool.region)).map((p) => toMoney(p));
        const view: QuotePoolDto = {
          region: pool.region,
          price: formatPrice(price),
          basis: current === null ? 'reserve_floor' : 'current_price',
          roundId: pool.roundId,
          freeGpus: pool.freeGpus,
          largestFreeGroup: group,
          wouldWin: limit.greaterThanOrEqualTo(price) && group >= input.gpus,
          historyRounds: history.length,
        };
        return { view, price, current, history, floor: toMoney(pool.reserveFloor!) };
      }),
    );
    const offer = { gpuModel, maxPrice: formatPrice(limit), wouldWinNow: quoted.some((q) => q.view.wouldWin), pools: quoted.map((q) => q.view) };
    if (quoted.length === 0) return { ...offer, region: null, basis: 'no_supply', estimates: null };

    const byPrice = [...quoted].sort((a, b) => a.price.comparedTo(b.price) || (a.view.region < b.view.region ? -1 : 1));
    const chosen = byPrice.find((q) => q.view.wouldWin) ?? byPrice[0];
    const estimates = estimatePool({
      current: chosen.current,
      reserveFloor: chosen.floor,
      history: chosen.history,
      limit,
      gpus: input.gpus,
      runtimeSeconds: input.runtimeSeconds,
      hasWindow: input.window !== undefined,
    });
    const basis = chosen.history.length > 0 ? 'history' : chosen.current === null ? 'reserve_floor' : 'current_price';
    return { ...offer, region: chosen.view.region, basis, estimates };
  }
}
