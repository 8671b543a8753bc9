import { ApiProperty } from '@nestjs/swagger';
import { CONTIGUITIES } from '../../core/market/types.js';

export const OPTION_REASONS = [
  'no_matching_nodes',
  'no_capacity_for_contiguity',
  'below_reserve',
  'above_limit',
] as const;
export const OPTION_BASES = ['node_prices', 'reserves', 'history_p25'] as const;

export class QuotePlacementDto {
  @ApiProperty({ type: [String], example: ['eu-west'], description: 'regions of the GPUs priced' }) regions: string[];
  @ApiProperty({ type: 'integer', example: 1, description: 'nodes the gang would span' }) nodes: number;
  @ApiProperty({
    type: 'integer',
    example: 0,
    description: 'of its GPUs, those held now by preemptible leases past their protected run, which it would displace',
  })
  displacesGpus: number;
}

export class QuoteHistoryDto {
  @ApiProperty({
    type: 'integer',
    example: 96,
    description: 'past rounds looked at (last 24 h up to the latest round, at most 96, evenly spaced)',
  })
  rounds: number;
  @ApiProperty({
    type: 'integer',
    example: 90,
    description: 'of those, rounds in which the option could be had at all',
  })
  available: number;
}

export class PreemptionRiskDto {
  @ApiProperty({
    type: 'integer',
    example: 600,
    description: 'seconds of running (MIN_HOLD_SECONDS) before the lease may be displaced',
  })
  protectedSeconds: number;
  @ApiProperty({
    type: 'integer',
    example: 120,
    description: 'notice a displaced lease gets before it is stopped (PREEMPTION_NOTICE_SECONDS)',
  })
  noticeSeconds: number;
  @ApiProperty({
    example: '3.000000',
    description:
      'after its protected run, demand worth more than this per GPU-hour for its GPUs (its limit plus the preemption penalty) can displace it; it then competes again as an open bid for the run time it still needs, within its window',
  })
  displacedByDemandAbove: string;
}

export class QuoteOptionDto {
  @ApiProperty({ enum: CONTIGUITIES }) contiguity: string;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({
    enum: ['now', 'window'],
    description: "now: win the next round; window: some round within the body's window (only with a window)",
  })
  timing: string;
  @ApiProperty({
    description: 'the option the body asks for: its contiguity and preemptible, and its window (or now, without one)',
  })
  requested: boolean;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.500000',
    description:
      'the lowest limit per GPU-hour that wins at these prices: what the cheapest gpus eligible GPUs of one contiguity group cost (node price, plus the preemption penalty for a GPU it would displace) per GPU, rounded up to 6 places, and at least the reserve of every node used; null when the option cannot be had',
  })
  priceToWin: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2.500000',
    description:
      'what it would pay per GPU-hour on those GPUs: the GPU-weighted mean of their node prices (no penalty), half-even to 6 places',
  })
  unitPrice: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '20.000000',
    description: 'unitPrice x gpus x runtimeSeconds / 3600, half-even to 6 places',
  })
  cost: string | null;
  @ApiProperty({
    description:
      "true when the priced GPUs include some held by a preemptible lease: that lease keeps them unless the bid is worth more than its own limit plus the penalty, which a quote does not see (other tenants' limits are private), so priceToWin is then a floor",
  })
  priceIsFloor: boolean;
  @ApiProperty({
    description:
      'maxPrice >= priceToWin (at equality it ties with the demand that set the price; where priceIsFloor, it reaches the floor)',
  })
  wouldWin: boolean;
  @ApiProperty({
    enum: OPTION_REASONS,
    nullable: true,
    type: String,
    description:
      'why it would not win (null when it would): no_matching_nodes (no active node meets the model and hard constraints), no_capacity_for_contiguity (no group has room at any price), below_reserve (no group has room on nodes whose reserve is within the limit), above_limit',
  })
  reason: string | null;
  @ApiProperty({
    enum: OPTION_BASES,
    description:
      "node_prices: the latest round's; reserves: no round has priced nodes yet; history_p25: a past round's (window only)",
  })
  basis: string;
  @ApiProperty({
    type: QuotePlacementDto,
    nullable: true,
    description: 'where the priced GPUs are; null when the option cannot be had',
  })
  placement: QuotePlacementDto | null;
  @ApiProperty({ type: QuoteHistoryDto, nullable: true, description: 'window options only' })
  history: QuoteHistoryDto | null;
  @ApiProperty({
    type: PreemptionRiskDto,
    nullable: true,
    description: 'preemptible options only: what preemptible risks (the price to win is the same)',
  })
  preemption: PreemptionRiskDto | null;
}

export class OfferQuoteDto {
  @ApiProperty({ example: 'H100-SXM-80GB' }) gpuModel: string;
  @ApiProperty({ example: '2.50' }) maxPrice: string;
  @ApiProperty({ description: 'the option the body asks for, now, would win' }) wouldWinNow: boolean;
  @ApiProperty({
    type: [QuoteOptionDto],
    description:
      'every contiguity tier (node, nvlink, block, none) x preemptible (false, true) x timing (now, and window when the body has one), in that order',
  })
  options: QuoteOptionDto[];
}

export class QuotePricesDto {
  @ApiProperty({
    enum: ['node_prices', 'reserves'],
    description: 'reserves: no committed round has priced nodes yet, so every node is priced at its reserve',
  })
  basis: string;
  @ApiProperty({ nullable: true, type: String, description: 'the latest committed round' }) roundId: string | null;
  @ApiProperty({ nullable: true, type: String }) periodStart: string | null;
  @ApiProperty({
    example: '0.50',
    description: 'per GPU-hour, added to the price of a GPU whose preemptible lease a gang would displace',
  })
  preemptionPenalty: string;
  @ApiProperty({
    type: 'integer',
    example: 96,
    description: 'past rounds the window estimates look at (0 without a window)',
  })
  historyRounds: number;
}

export class QuoteDto {
  @ApiProperty() quotedAt: string;
  @ApiProperty({ type: 'integer' }) gpus: number;
  @ApiProperty({ type: 'integer' }) runtimeSeconds: number;
  @ApiProperty({ enum: CONTIGUITIES }) contiguity: string;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({ description: 'the option the body asks for, now, would win for some offer' }) wouldWinNow: boolean;
  @ApiProperty({ type: QuotePricesDto }) prices: QuotePricesDto;
  @ApiProperty({ type: [OfferQuoteDto] }) offers: OfferQuoteDto[];
}
