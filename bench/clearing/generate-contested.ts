import { Money } from '../../src/core/money/money.js';
import type { Contiguity, MarketNode, OpenBid, RoundSnapshot, RunningLease } from '../../src/core/market/types.js';
import { random } from './generate-instance.js';

/**
 * Rounds shaped like the held-out ones the clearing issue (14) was measured on: demand 3-4 times
 * the free GPUs (not the ~13 times of generate-instance.ts), 5% of nodes fully down and 8% with
 * some GPUs unavailable, NVL72-style racks (18 nodes of 4 GPUs in one NVLink domain) beside
 * 8-GPU nodes, blocks of 16-32 nodes, 64-GPU block gangs, leases fixed and displaceable.
 */
const MODELS = [
  { name: 'H100-SXM-80GB', memory: 80, base: 2.0 },
  { name: 'H200-141GB', memory: 141, base: 2.8 },
  { name: 'A100-SXM-80GB', memory: 80, base: 1.2 },
];
const REGIONS = ['us-east', 'eu-west'];
const NOW = Date.parse('2026-12-06T12:00:00Z');
const GANGS: [number, number][] = [
  [1, 0.5],
  [2, 0.2],
  [4, 0.13],
  [8, 0.12],
  [16, 0.02],
  [32, 0.015],
  [64, 0.015],
];

export function generateContested(bidCount: number, nodeCount: number, seed: number, contention = 3.5): RoundSnapshot {
  const rnd = random(seed * 7 + 3);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const price = (x: number) => new Money(x.toFixed(2));
  const nodes: MarketNode[] = [];
  for (let g = 0; nodes.length < nodeCount; g++) {
    const model = MODELS[g % MODELS.length];
    const region = REGIONS[Math.floor(g / MODELS.length) % REGIONS.length];
    const rack = model.name !== 'A100-SXM-80GB' && rnd() < 0.04;
    const count = rack ? 18 : 1;
    const blockSize = 16 + Math.floor(rnd() * 17);
    for (let k = 0; k < count && nodes.length < nodeCount; k++) {
      const id = `n-${String(nodes.length).padStart(5, '0')}`;
      const gpus = rack ? 4 : 8;
      const roll = rnd();
      nodes.push({
        id,
        provider: `p-${g % 4}`,
        gpuModel: model.name,
        gpuMemoryGb: model.memory,
        gpus,
        unavailableGpus: roll < 0.05 ? gpus : roll < 0.13 ? 1 + Math.floor(rnd() * (gpus - 1)) : 0,
        region,
        block: `${region}/${model.name}/b${Math.floor(nodes.length / blockSize)}`,
        nvlinkDomain: rack ? `nvl-${g}` : id,
        compliance: g % 4 === 3 ? ['soc2'] : [],
        reservePrice: price(model.base * (0.85 + 0.3 * rnd())),
      });
    }
  }
  const leases: RunningLease[] = [];
  let free = 0;
  for (const node of nodes) {
    let left = node.gpus - node.unavailableGpus;
    while (left > 0 && rnd() < 0.4) {
      const gpus = 1 + Math.floor(rnd() * left);
      left -= gpus;
      const preemptible = rnd() < 0.6;
      const base = MODELS.find((m) => m.name === node.gpuModel)!.base;
      leases.push({
        id: `l-${leases.length}`,
        bidId: `b-old-${leases.length}`,
        gpuModel: node.gpuModel,
        value: Money.max(node.reservePrice, price(base * (1 + 0.8 * rnd()))),
        preemptible,
        protectedUntil:
          preemptible && rnd() < 0.4 ? new Date(NOW + 60_000 * (1 + Math.floor(rnd() * 20))).toISOString() : null,
        placement: [{ node: node.id, gpus }],
      });
    }
    free += left;
  }
  // Gang sizes drawn from GANGS; while the demand is above `contention` times the free GPUs,
  // the mid-sized gangs are halved in turn (the 64-GPU block gangs stay).
  const drawn = Array.from({ length: bidCount }, () => {
    let u = rnd();
    for (const [gpus, p] of GANGS) if ((u -= p) < 0) return gpus;
    return 1;
  });
  let asked = drawn.reduce((t, g) => t + g, 0);
  for (let pass = 0; pass < 8 && asked > contention * free; pass++)
    for (let i = 0; i < drawn.length && asked > contention * free; i++)
      if (drawn[i] > 1 && drawn[i] < 64) {
        asked -= drawn[i] / 2;
        drawn[i] /= 2;
      }
  const bids: OpenBid[] = drawn.map((gpus, i) => {
    const roll = rnd();
    const contiguity: Contiguity =
      gpus === 64 ? 'block' : gpus <= 8 && roll < 0.55 ? 'node' : roll < 0.7 ? 'nvlink' : roll < 0.9 ? 'block' : 'none';
    const first = pick(MODELS);
    const markup = 0.9 + 1.3 * rnd();
    const offers = [{ gpuModel: first.name, maxPrice: price(first.base * markup) }];
    if (rnd() < 0.35) {
      const second = MODELS[(MODELS.indexOf(first) + 1 + Math.floor(rnd() * (MODELS.length - 1))) % MODELS.length];
      offers.push({ gpuModel: second.name, maxPrice: price(second.base * markup * (0.85 + 0.2 * rnd())) });
    }
    return {
      id: `b-${String(i).padStart(6, '0')}`,
      gpus,
      contiguity,
      preemptible: rnd() < 0.5,
      offers,
      regions: rnd() < 0.7 ? [] : [pick(REGIONS)],
      compliance: rnd() < 0.08 ? ['soc2'] : [],
      minGpuMemoryGb: 0,
    };
  });
  return {
    version: 1,
    roundId: `contested-${bidCount}x${nodeCount}-${seed}`,
    now: new Date(NOW).toISOString(),
    periodSeconds: 60,
    params: { preemptionPenalty: new Money('0.50') },
    nodes,
    leases,
    bids,
  };
}
