import { Inject, Injectable } from '@nestjs/common';
import { CONTIGUITIES, type Contiguity } from '../../core/market/types.js';
import { formatAmount, formatPrice, type Money, toMoney } from '../../core/money/money.js';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import type { CreateBidDto } from '../bids/bid.dto.js';
import { BidsService } from '../bids/bids.service.js';
import type { OfferQuoteDto, QuoteDto, QuoteOptionDto } from './quote.dto.js';
import { type OptionPrice, priceTiers, type QuoteNode, RATE_PLACES, runCost } from './quote-pricing.js';
import { estimateWithinWindow } from './quote-window.js';
import { supplyInRounds, supplyNow } from './quote-supply.js';
import { QuotesRepository } from './quotes.repository.js';

/** The window estimates look this far back from the latest round... */
export const HISTORY_HOURS = 24;
/** ...at this many rounds at most, evenly spaced (every 15 minutes of a day of 60 s rounds). */
export const MAX_HISTORY_ROUNDS = 96;

const formatRate = (rate: Money) => rate.toFixed(RATE_PLACES);

/**
 * What every option of a bid would cost to win, from the latest node prices; nothing is stored.
 * The options are the seeds' "what flexibility is worth": each offer's model, each contiguity
 * tier, preemptible or not, now or within the body's window.
 */
@Injectable()
export class QuotesService {
  constructor(
    private readonly bids: BidsService,
    private readonly repository: QuotesRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async quote(input: CreateBidDto, now: Date = new Date()): Promise<QuoteDto> {
    await this.bids.check(input, now);
    const penalty = toMoney(this.config.preemptionPenalty);
    const models = [...new Set(input.offers.map((o) => o.gpuModel))];
    const latest = await this.repository.latestRound();
    const nodes = await this.supply(models, latest?.priced ? latest.id : null, now);
    const basis = latest?.priced ? 'node_prices' : 'reserves';
    const hasWindow = input.window !== undefined;
    const past = hasWindow && latest ? await this.history(nodes, latest.periodStart) : [];

    const offers = input.offers.map((o) =>
      this.quoteOffer(input, nodes, past, { gpuModel: o.gpuModel, limit: toMoney(o.maxPrice) }, penalty, basis),
    );
    return {
      quotedAt: now.toISOString(),
      gpus: input.gpus,
      runtimeSeconds: input.runtimeSeconds,
      contiguity: input.contiguity,
      preemptible: input.preemptible,
      wouldWinNow: offers.some((o) => o.wouldWinNow),
      prices: {
        basis,
        roundId: latest?.id ?? null,
        periodStart: latest?.periodStart.toISOString() ?? null,
        preemptionPenalty: formatPrice(penalty),
        historyRounds: past.length,
      },
      offers,
    };
  }

  private async supply(models: string[], roundId: string | null, now: Date): Promise<QuoteNode[]> {
    const rows = await this.repository.nodes(models, roundId);
    const leases = await this.repository.liveLeases(models);
    const stuck = await this.repository.stuckGpus(rows.map((r) => r.id));
    return supplyNow(
      rows.map((r) => ({
        node: {
          id: r.id,
          provider: r.providerId,
          gpuModel: r.gpuModel,
          gpuMemoryGb: r.memoryGb,
          gpus: r.gpus,
          unavailableGpus: 0,
          region: r.region,
          block: r.block,
          nvlinkDomain: r.nvlinkDomain,
          compliance: r.compliance,
          reservePrice: toMoney(r.reservePrice),
        },
        active: r.state === 'active',
        latestPrice: r.price === null ? null : toMoney(r.price),
      })),
      leases.map((l) => ({ ...l, protectedUntil: l.protectedUntil?.getTime() ?? null })),
      stuck,
      now,
    );
  }

  /** The supply of each sampled past round: today's active nodes at that round's prices and occupancy. */
  private async history(nodes: QuoteNode[], until: Date): Promise<QuoteNode[][]> {
    const rounds = await this.repository.historyRounds(until, HISTORY_HOURS, MAX_HISTORY_ROUNDS);
    const roundIds = rounds.map((r) => r.id);
    const rows = await this.repository.pastNodePrices(
      roundIds,
      nodes.map((n) => n.node.id),
    );
    return supplyInRounds(
      nodes,
      roundIds,
      rows.map((r) => ({ ...r, price: toMoney(r.price) })),
    );
  }

  private quoteOffer(
    input: CreateBidDto,
    nodes: QuoteNode[],
    past: QuoteNode[][],
    offer: { gpuModel: string; limit: Money },
    penalty: Money,
    basis: 'node_prices' | 'reserves',
  ): OfferQuoteDto {
    const hasWindow = input.window !== undefined;
    const request = {
      gpuModel: offer.gpuModel,
      gpus: input.gpus,
      regions: input.regions ?? [],
      compliance: input.compliance ?? [],
      minGpuMemoryGb: input.minGpuMemoryGb ?? 0,
      limit: offer.limit,
    };
    const tiersNow = priceTiers(nodes, request, penalty);
    const tiersPast = hasWindow ? past.map((supply) => priceTiers(supply, request, penalty)) : [];
    const options: QuoteOptionDto[] = [];
    for (const contiguity of CONTIGUITIES) {
      // Whether the lease may be displaced later changes nothing about what wins a round.
      const now = tiersNow[contiguity];
      const window = hasWindow
        ? estimateWithinWindow(
            now,
            tiersPast.map((tiers) => tiers[contiguity]),
          )
        : null;
      for (const preemptible of [false, true]) {
        const describe = { input, contiguity, preemptible, limit: offer.limit, penalty };
        options.push(this.option(describe, 'now', now, basis, null));
        if (window)
          options.push(
            this.option(describe, 'window', window.option, window.from === 'now' ? basis : 'history_p25', {
              rounds: window.rounds,
              available: window.available,
            }),
          );
      }
    }
    const asked = options.find(
      (o) => o.contiguity === input.contiguity && o.preemptible === input.preemptible && o.timing === 'now',
    )!;
    return { gpuModel: offer.gpuModel, maxPrice: formatPrice(offer.limit), wouldWinNow: asked.wouldWin, options };
  }

  private option(
    d: { input: CreateBidDto; contiguity: Contiguity; preemptible: boolean; limit: Money; penalty: Money },
    timing: 'now' | 'window',
    price: OptionPrice,
    basis: QuoteOptionDto['basis'],
    history: QuoteOptionDto['history'],
  ): QuoteOptionDto {
    const requested =
      d.contiguity === d.input.contiguity &&
      d.preemptible === d.input.preemptible &&
      (timing === 'window') === (d.input.window !== undefined);
    const preemption = d.preemptible
      ? {
          protectedSeconds: this.config.minHoldSeconds,
          noticeSeconds: this.config.preemptionNoticeSeconds,
          displacedByDemandAbove: formatRate(d.limit.plus(d.penalty)),
        }
      : null;
    const common = {
      contiguity: d.contiguity,
      preemptible: d.preemptible,
      timing,
      requested,
      basis,
      history,
      preemption,
    };
    if (!price.available)
      return {
        ...common,
        priceToWin: null,
        unitPrice: null,
        cost: null,
        priceIsFloor: false,
        wouldWin: false,
        reason: price.reason,
        placement: null,
      };
    const displacesGpus = price.take.reduce((total, t) => total + t.displaced, 0);
    return {
      ...common,
      priceToWin: formatRate(price.priceToWin),
      unitPrice: formatRate(price.unitPrice),
      cost: formatAmount(runCost(price.unitPrice, d.input.gpus, d.input.runtimeSeconds)),
      priceIsFloor: displacesGpus > 0,
      wouldWin: price.wouldWin,
      reason: price.reason,
      placement: {
        regions: [...new Set(price.take.map((t) => t.region))].sort(),
        nodes: price.take.length,
        displacesGpus,
      },
    };
  }
}
