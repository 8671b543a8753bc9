import { ApiProperty } from '@nestjs/swagger';

export class EstimateDto {
  @ApiProperty({ example: '2.1000', description: 'expected price per GPU-hour, never above the offer limit' }) pricePerGpuHour: string;
  @ApiProperty({ example: '16.800000', description: 'pricePerGpuHour x gpus x runtimeSeconds / 3600, 6 places' }) cost: string;
  @ApiProperty({ enum: ['current_price', 'reserve_floor', 'history_p50', 'history_p25'] }) basis: string;
}

export class EstimatesDto {
  @ApiProperty({ type: EstimateDto }) nonPreemptibleNow: EstimateDto;
  @ApiProperty({ type: EstimateDto }) preemptibleNow: EstimateDto;
  @ApiProperty({ type: EstimateDto, nullable: true, description: 'null when the body has no window' }) preemptibleWithinWindow: EstimateDto | null;
}

export class QuotePoolDto {
  @ApiProperty({ example: 'eu-west' }) region: string;
  @ApiProperty({ example: '2.35', description: 'latest clearing price, or the reserve floor before the first round' }) price: string;
  @ApiProperty({ enum: ['current_price', 'reserve_floor'] }) basis: string;
  @ApiProperty({ nullable: true, type: String }) roundId: string | null;
  @ApiProperty({ description: 'free GPUs of the pool now' }) freeGpus: number;
  @ApiProperty({ description: 'the largest contiguity group of free GPUs that meets the constraints and limit' }) largestFreeGroup: number;
  @ApiProperty({ description: 'limit >= price and largestFreeGroup >= gpus' }) wouldWin: boolean;
  @ApiProperty({ description: 'committed rounds of the pool in the last 24 h' }) historyRounds: number;
}

export class OfferQuoteDto {
  @ApiProperty({ example: 'H100-SXM-80GB' }) gpuModel: string;
  @ApiProperty({ example: '2.50' }) maxPrice: string;
  @ApiProperty() wouldWinNow: boolean;
  @ApiProperty({ type: [QuotePoolDto] }) pools: QuotePoolDto[];
  @ApiProperty({ nullable: true, type: String, description: 'the pool the estimates are for: the cheapest that would win, else the cheapest' })
  region: string | null;
  @ApiProperty({ enum: ['history', 'current_price', 'reserve_floor', 'no_supply'], description: 'what the estimates rest on' }) basis: string;
  @ApiProperty({ type: EstimatesDto, nullable: true, description: 'null when no active node offers the model in the allowed regions' })
  estimates: EstimatesDto | null;
}

export class QuoteDto {
  @ApiProperty() quotedAt: string;
  @ApiProperty() gpus: number;
  @ApiProperty() runtimeSeconds: number;
  @ApiProperty() preemptible: boolean;
  @ApiProperty({ type: [OfferQuoteDto] }) offers: OfferQuoteDto[];
}
