/**
 * Demand per pool in one round, for the round audit. A bid is an XOR bundle over GPU models and
 * may accept several regions, so it could have been served by several pools: a winner counts
 * where it was placed; a loser counts in every pool it would have accepted (an offer for the
 * pool's model, and the pool's region among its regions, or no regions at all). The per-pool
 * figures therefore do not add up to the round's total demand, which is reported beside them.
 */
export interface DemandPool {
  readonly gpuModel: string;
  readonly region: string;
}

export interface PlacedShare {
  readonly bidId: string;
  readonly gpuModel: string;
  readonly region: string;
  readonly gpus: number;
}

export interface LosingBid {
  readonly bidId: string;
  readonly gpus: number;
  readonly gpuModels: readonly string[];
  /** Empty: any region. */
  readonly regions: readonly string[];
}

export interface PoolDemand extends DemandPool {
  /** GPUs of winners placed in the pool plus GPUs of losers that would have accepted it. */
  readonly demandGpus: number;
  readonly wonGpus: number;
  readonly lostGpus: number;
  readonly bids: number;
}

const key = (gpuModel: string, region: string) => `${gpuModel}\u0000${region}`;

export function accepts(bid: LosingBid, pool: DemandPool): boolean {
  return bid.gpuModels.includes(pool.gpuModel) && (bid.regions.length === 0 || bid.regions.includes(pool.region));
}

export function demandPerPool(
  pools: readonly DemandPool[],
  placed: readonly PlacedShare[],
  losers: readonly LosingBid[],
): PoolDemand[] {
  return pools.map((pool) => {
    const here = placed.filter((s) => key(s.gpuModel, s.region) === key(pool.gpuModel, pool.region));
    const wonGpus = here.reduce((total, s) => total + s.gpus, 0);
    const eligible = losers.filter((bid) => accepts(bid, pool));
    const lostGpus = eligible.reduce((total, bid) => total + bid.gpus, 0);
    return {
      gpuModel: pool.gpuModel,
      region: pool.region,
      demandGpus: wonGpus + lostGpus,
      wonGpus,
      lostGpus,
      bids: new Set(here.map((s) => s.bidId)).size + eligible.length,
    };
  });
}
