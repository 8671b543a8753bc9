import { Money } from '../../src/core/money/money.js';
import type { Contiguity, MarketNode, OpenBid, RoundSnapshot, RunningLease } from '../../src/core/market/types.js';

/**
 * Rounds for the price benchmark, drawn independently of the clearing benchmark's generator
 * (bench/clearing/generate-instance.ts) so the prices are not tuned to one shape: 4-GPU
 * NVL72-style racks (18 nodes in one NVLink domain) beside 8-GPU nodes, nodes with unavailable
 * GPUs and nodes fully down, compliance tags by provider, three regions, fixed leases
 * (non-preemptible or inside their protected run) and displaceable ones, gangs of 1-64 over all
 * four contiguity kinds, substitutes and hard constraints.
 *
 * Lease values come two ways:
 * - `drawn`: a value drawn around the model's base price, as an arbitrary generator would;
 * - `carried`: the winners of an earlier round of the same market, at the limits they won with,
 *   which is how leases arise in a running market (`carryOver`).
 */
const MODELS = [
  { name: 'H100-SXM-80GB', memory: 80, base: 2.2 },
  { name: 'H200-141GB', memory: 141, base: 3.1 },
  { name: 'A100-SXM-80GB', memory: 80, base: 1.3 },
  { name: 'L40S-48GB', memory: 48, base: 0.8 },
];
const REGIONS = ['us-east', 'us-west', 'eu-central'];
const NOW = Date.parse('2026-12-06T12:00:00Z');

/** xorshift32: reproducible and independent of the clearing generator's mulberry32. */
export function rng(seed: number): () => number {
  let x = (seed * 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

const money = (x: number) => new Money(Math.max(0.01, x).toFixed(3));

function fleet(nodeCount: number, rnd: () => number): MarketNode[] {
  const nodes: MarketNode[] = [];
  let rack = 0;
  while (nodes.length < nodeCount) {
    const model = MODELS[Math.floor(rnd() * MODELS.length)];
    const region = REGIONS[Math.floor(rnd() * REGIONS.length)];
    const provider = Math.floor(rnd() * 4);
    const nvl = model.name.startsWith('H') && rnd() < 0.15;
    const size = nvl ? Math.min(18, nodeCount - nodes.length) : 1 + Math.floor(rnd() * 6);
    const block = `${region}/blk-${Math.floor(rnd() * 3)}`;
    const reserveBase = model.base * (0.7 + 0.3 * rnd());
    for (let k = 0; k < size; k++) {
      const id = `node-${String(nodes.length).padStart(5, '0')}`;
      const gpus = nvl ? 4 : 8;
      const roll = rnd();
      nodes.push({
        id,
        provider: `prov-${provider}`,
        gpuModel: model.name,
        gpuMemoryGb: model.memory,
        gpus,
        unavailableGpus: roll < 0.02 ? gpus : roll < 0.08 ? 1 + Math.floor(rnd() * (gpus - 1)) : 0,
        region,
        block,
        nvlinkDomain: nvl ? `nvl-${rack}` : id,
        compliance: [
          ...(provider % 2 === 1 ? ['soc2'] : []),
          ...(provider === 3 ? ['hipaa'] : []),
          ...(region === 'eu-central' ? ['eu-residency'] : []),
        ],
        reservePrice: money(reserveBase * (0.95 + 0.1 * rnd())),
      });
    }
    if (nvl) rack++;
  }
  return nodes;
}

function bidsFor(count: number, rnd: () => number, prefix: string): OpenBid[] {
  const gangs = [1, 1, 1, 2, 2, 4, 4, 8, 8, 8, 16, 32, 64];
  return Array.from({ length: count }, (_, i) => {
    const gpus = gangs[Math.floor(rnd() * gangs.length)];
    const c = rnd();
    const contiguity: Contiguity = gpus <= 8 && c < 0.5 ? 'node' : c < 0.65 ? 'nvlink' : c < 0.85 ? 'block' : 'none';
    const first = MODELS[Math.floor(rnd() * MODELS.length)];
    const eagerness = 0.7 + 1.5 * rnd() * rnd() + 0.3 * rnd();
    const offers = [{ gpuModel: first.name, maxPrice: money(first.base * eagerness) }];
    if (rnd() < 0.35) {
      const second = MODELS[Math.floor(rnd() * MODELS.length)];
      if (second !== first)
        offers.push({ gpuModel: second.name, maxPrice: money(second.base * eagerness * (0.85 + 0.2 * rnd())) });
    }
    const r = rnd();
    return {
      id: `${prefix}-${String(i).padStart(5, '0')}`,
      gpus,
      contiguity,
      preemptible: rnd() < 0.55,
      offers,
      regions: r < 0.55 ? [] : r < 0.85 ? [REGIONS[Math.floor(rnd() * REGIONS.length)]] : REGIONS.slice(0, 2),
      compliance: rnd() < 0.12 ? ['soc2'] : rnd() < 0.03 ? ['hipaa'] : [],
      minGpuMemoryGb: rnd() < 0.85 ? 0 : 80,
    };
  });
}

/** A round with leases whose values are drawn, not won. */
export function drawnRound(bidCount: number, seed: number): RoundSnapshot {
  const rnd = rng(seed);
  const nodes = fleet(Math.max(4, Math.round(bidCount / 4)), rnd);
  const leases: RunningLease[] = [];
  for (const node of nodes) {
    let free = node.gpus - node.unavailableGpus;
    while (free > 0 && rnd() < 0.5) {
      const gpus = 1 + Math.floor(rnd() * free);
      free -= gpus;
      const preemptible = rnd() < 0.6;
      const base = MODELS.find((m) => m.name === node.gpuModel)!.base;
      leases.push({
        id: `lease-${leases.length}`,
        bidId: `old-${leases.length}`,
        gpuModel: node.gpuModel,
        value: Money.max(node.reservePrice, money(base * (0.8 + 1.2 * rnd()))),
        preemptible,
        protectedUntil:
          preemptible && rnd() < 0.4 ? new Date(NOW + 60_000 * (1 + Math.floor(rnd() * 20))).toISOString() : null,
        placement: [{ node: node.id, gpus }],
      });
    }
  }
  return {
    version: 1,
    roundId: `drawn-${bidCount}-${seed}`,
    now: new Date(NOW).toISOString(),
    periodSeconds: 60,
    params: { preemptionPenalty: new Money('0.40') },
    nodes,
    leases,
    bids: bidsFor(bidCount, rnd, 'bid'),
  };
}

/** The same round before any lease: the first round of a fresh market. */
export function freshRound(bidCount: number, seed: number): RoundSnapshot {
  return { ...drawnRound(bidCount, seed), roundId: `fresh-${bidCount}-${seed}`, leases: [] };
}

/**
 * The next round of a market whose previous round (with no leases) was `previous`:
 * its winners run on as leases at the limits they won with (40% of them non-preemptible, the
 * rest past or inside their protected run), its losers bid again, and fresh bids arrive.
 */
export function carryOver(
  previous: RoundSnapshot,
  placements: readonly { bidId: string; gpuModel: string; nodes: readonly { node: string; gpus: number }[] }[],
  seed: number,
): RoundSnapshot {
  const rnd = rng(seed + 7919);
  const bids = new Map(previous.bids.map((b) => [b.id, b]));
  const leases: RunningLease[] = placements.map((p, i) => {
    const bid = bids.get(p.bidId)!;
    const preemptible = rnd() >= 0.4;
    return {
      id: `won-${i}`,
      bidId: p.bidId,
      gpuModel: p.gpuModel,
      value: bid.offers.find((o) => o.gpuModel === p.gpuModel)!.maxPrice,
      preemptible,
      protectedUntil:
        preemptible && rnd() < 0.5 ? new Date(NOW + 60_000 * (1 + Math.floor(rnd() * 9))).toISOString() : null,
      placement: p.nodes,
    };
  });
  const placed = new Set(placements.map((p) => p.bidId));
  const waiting = previous.bids.filter((b) => !placed.has(b.id));
  const fresh = bidsFor(Math.round(previous.bids.length / 2), rnd, 'new');
  return { ...previous, roundId: `${previous.roundId}-next`, leases, bids: [...waiting, ...fresh] };
}
