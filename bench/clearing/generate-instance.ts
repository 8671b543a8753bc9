import { Money } from '../../src/core/money/money.js';
import type { Contiguity, MarketNode, OpenBid, RoundSnapshot, RunningLease } from '../../src/core/market/types.js';

/**
 * Seeded round snapshots for the clearing benchmark: several GPU models and regions, blocks of
 * 32 nodes, some NVL72-style racks (nine 8-GPU nodes sharing one NVLink domain), a few price
 * tiers per pool, running leases (fixed, protected and displaceable), and bids with gang sizes
 * 1-64 skewed small, all four contiguity kinds, and multi-offer substitutes.
 */
const MODELS = [
  { name: 'H100-SXM-80GB', memory: 80, base: 2.0 },
  { name: 'A100-SXM-80GB', memory: 80, base: 1.2 },
  { name: 'A100-PCIE-40GB', memory: 40, base: 0.9 },
  { name: 'L40S-48GB', memory: 48, base: 0.7 },
];
const REGIONS = ['us-east', 'us-west', 'eu-west'];
const GANGS = [1, 1, 1, 1, 2, 2, 2, 4, 4, 8, 8, 16, 32, 64];
const NOW = Date.parse('2026-11-21T10:00:00Z');

/** mulberry32: small, fast and enough for reproducible instances. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const price = (x: number) => new Money(x.toFixed(2));

export function generateInstance(bidCount: number, nodeCount: number, seed: number): RoundSnapshot {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const nodes: MarketNode[] = [];
  for (let i = 0; nodes.length < nodeCount; i++) {
    const model = MODELS[i % MODELS.length];
    const region = REGIONS[Math.floor(i / MODELS.length) % REGIONS.length];
    const provider = Math.floor(rnd() * 3);
    const rack = rnd() < 0.1 ? 9 : 1;
    for (let r = 0; r < rack && nodes.length < nodeCount; r++) {
      const id = `n-${String(nodes.length).padStart(5, '0')}`;
      nodes.push({
        id,
        provider: `p-${provider}`,
        gpuModel: model.name,
        gpuMemoryGb: model.memory,
        gpus: 8,
        unavailableGpus: rnd() < 0.05 ? 1 + Math.floor(rnd() * 8) : 0,
        region,
        block: `${region}/${model.name}/b${Math.floor(nodes.length / (MODELS.length * REGIONS.length * 32))}`,
        nvlinkDomain: rack > 1 ? `rack-${i}` : id,
        compliance: [
          ...(provider >= 1 ? ['soc2'] : []),
          ...(provider === 2 ? ['hipaa'] : []),
          ...(region === 'eu-west' ? ['eu-residency'] : []),
        ],
        reservePrice: price(model.base * [0.9, 1.0, 1.1][provider]),
      });
    }
  }

  const leases: RunningLease[] = [];
  for (const node of nodes) {
    let free = node.gpus - node.unavailableGpus;
    while (free > 0 && rnd() < 0.45) {
      const gpus = 1 + Math.floor(rnd() * free);
      free -= gpus;
      const preemptible = rnd() < 0.6;
      const base = MODELS.find((m) => m.name === node.gpuModel)!.base;
      leases.push({
        id: `l-${leases.length}`,
        bidId: `b-old-${leases.length}`,
        gpuModel: node.gpuModel,
        value: Money.max(node.reservePrice, price(base * (0.9 + rnd()))),
        preemptible,
        protectedUntil: preemptible
          ? new Date(NOW + (rnd() < 0.4 ? 1 : -1) * 60_000 * (1 + Math.floor(rnd() * 30))).toISOString()
          : null,
        placement: [{ node: node.id, gpus }],
      });
    }
  }

  const bids: OpenBid[] = [];
  for (let i = 0; i < bidCount; i++) {
    const gpus = pick(GANGS);
    const roll = rnd();
    const contiguity: Contiguity =
      gpus <= 8 && roll < 0.6 ? 'node' : roll < 0.7 ? 'nvlink' : roll < 0.85 ? 'block' : 'none';
    const first = Math.floor(rnd() * MODELS.length);
    const markup = 0.8 + 1.6 * rnd();
    const offers = [{ gpuModel: MODELS[first].name, maxPrice: price(MODELS[first].base * markup) }];
    if (rnd() < 0.4) {
      const second = (first + 1 + Math.floor(rnd() * (MODELS.length - 1))) % MODELS.length;
      offers.push({
        gpuModel: MODELS[second].name,
        maxPrice: price(MODELS[second].base * markup * (0.8 + 0.3 * rnd())),
      });
    }
    const regionRoll = rnd();
    bids.push({
      id: `b-${String(i).padStart(6, '0')}`,
      gpus,
      contiguity,
      preemptible: rnd() < 0.5,
      offers,
      regions: regionRoll < 0.6 ? [] : regionRoll < 0.85 ? [pick(REGIONS)] : [REGIONS[0], REGIONS[1]],
      compliance: rnd() < 0.1 ? ['soc2'] : rnd() < 0.03 ? ['hipaa'] : [],
      minGpuMemoryGb: rnd() < 0.8 ? 0 : pick([40, 80]),
    });
  }
  return {
    version: 1,
    roundId: `bench-${bidCount}x${nodeCount}-${seed}`,
    now: new Date(NOW).toISOString(),
    periodSeconds: 60,
    params: { preemptionPenalty: new Money('0.50') },
    nodes,
    leases,
    bids,
  };
}
