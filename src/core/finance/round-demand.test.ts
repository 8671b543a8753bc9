import { describe, expect, it } from 'vitest';
import { demandPerPool } from './round-demand.js';

const H100 = 'H100-SXM-80GB';
const A100 = 'A100-SXM-80GB';
const pools = [
  { gpuModel: H100, region: 'eu-west' },
  { gpuModel: H100, region: 'us-east' },
  { gpuModel: A100, region: 'eu-west' },
];

describe('demandPerPool', () => {
  it('counts a winner only where it was placed, a loser in every pool it would have accepted', () => {
    const placed = [{ bidId: 'w1', gpuModel: H100, region: 'eu-west', gpus: 8 }];
    const losers = [
      { bidId: 'any-region-h100-or-a100', gpus: 4, gpuModels: [H100, A100], regions: [] },
      { bidId: 'us-only', gpus: 2, gpuModels: [H100], regions: ['us-east'] },
    ];
    expect(demandPerPool(pools, placed, losers)).toEqual([
      { gpuModel: H100, region: 'eu-west', demandGpus: 12, wonGpus: 8, lostGpus: 4, bids: 2 },
      { gpuModel: H100, region: 'us-east', demandGpus: 6, wonGpus: 0, lostGpus: 6, bids: 2 },
      { gpuModel: A100, region: 'eu-west', demandGpus: 4, wonGpus: 0, lostGpus: 4, bids: 1 },
    ]);
  });

  it('counts a winner split over two nodes of one pool once as a bid and fully in GPUs', () => {
    const placed = [
      { bidId: 'w', gpuModel: H100, region: 'eu-west', gpus: 8 },
      { bidId: 'w', gpuModel: H100, region: 'eu-west', gpus: 8 },
    ];
    expect(demandPerPool(pools.slice(0, 1), placed, [])).toEqual([
      { gpuModel: H100, region: 'eu-west', demandGpus: 16, wonGpus: 16, lostGpus: 0, bids: 1 },
    ]);
  });

  it('has no demand in a pool no bid accepts', () => {
    expect(
      demandPerPool(pools.slice(2), [], [{ bidId: 'l', gpus: 8, gpuModels: [H100], regions: [] }])[0].demandGpus,
    ).toBe(0);
  });
});
