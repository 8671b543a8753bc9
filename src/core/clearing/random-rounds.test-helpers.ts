import fc from 'fast-check';
import { Money, ZERO } from '../money/money.js';
import { contiguityGroupKey, isEligible, isFixedLease, usableGpus } from '../market/node-eligibility.js';
import { CONTIGUITIES } from '../market/types.js';
import type { RoundSnapshot } from '../market/types.js';
import { bid, lease, node, snapshot } from './snapshot-fixtures.js';

/**
 * Random small rounds and their optimum by brute force, for the property tests of the
 * clearing phases.
 */
/** Random small rounds: 1-4 nodes of 1-4 GPUs, two models, two blocks, up to two leases, 1-4 bids. */
const money = fc.integer({ min: 50, max: 400 }).map((c) => (c / 100).toFixed(2));
export const roundArbitrary = fc
  .record({
    nodes: fc.array(
      fc.record({
        gpus: fc.integer({ min: 1, max: 4 }),
        unavailable: fc.integer({ min: 0, max: 1 }),
        model: fc.constantFrom('H100', 'A100'),
        block: fc.constantFrom('b1', 'b2'),
        reserve: money,
        region: fc.constantFrom('us', 'eu'),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    leases: fc.array(
      fc.record({
        node: fc.nat(),
        gpus: fc.integer({ min: 1, max: 2 }),
        value: money,
        preemptible: fc.boolean(),
        protectedRun: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
    bids: fc.array(
      fc.record({
        gpus: fc.integer({ min: 1, max: 5 }),
        contiguity: fc.constantFrom(...CONTIGUITIES),
        h100: fc.option(money),
        a100: fc.option(money),
        region: fc.option(fc.constantFrom('us', 'eu')),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    penalty: fc.constantFrom('0.00', '0.25', '1.00'),
  })
  .map((r): RoundSnapshot => {
    const nodes = r.nodes.map((n, i) =>
      node(`n${i}`, {
        gpus: n.gpus,
        unavailableGpus: Math.min(n.unavailable, n.gpus - 1),
        gpuModel: n.model,
        block: n.block,
        nvlinkDomain: i < 2 ? 'rack' : `n${i}`,
        reserve: n.reserve,
        region: n.region,
      }),
    );
    const free = nodes.map(usableGpus);
    const leases = r.leases.flatMap((l, i) => {
      const k = l.node % nodes.length;
      if (free[k] < l.gpus) return [];
      free[k] -= l.gpus;
      return [
        lease(`l${i}`, { [nodes[k].id]: l.gpus }, l.value, {
          gpuModel: nodes[k].gpuModel,
          preemptible: l.preemptible,
          protectedUntil: l.protectedRun ? '2026-11-21T11:00:00Z' : null,
        }),
      ];
    });
    const bids = r.bids.flatMap((b, i) => {
      const offers: Record<string, string> = {};
      if (b.h100) offers.H100 = b.h100;
      if (b.a100) offers.A100 = b.a100;
      return Object.keys(offers).length
        ? [bid(`b${i}`, b.gpus, offers, { contiguity: b.contiguity, regions: b.region ? [b.region] : [] })]
        : [];
    });
    return snapshot({ nodes, leases, bids, penalty: r.penalty });
  });

/** Every integer split of `gpus` over `caps`. */
function* splits(gpus: number, caps: number[], from = 0): Generator<number[]> {
  if (from === caps.length) {
    if (gpus === 0) yield [];
    return;
  }
  for (let t = Math.min(gpus, caps[from]); t >= 0; t--)
    for (const rest of splits(gpus - t, caps, from + 1)) yield [t, ...rest];
}

/** The optimum by brute force: every placement of every bid and every keep/displace choice. */
export function exhaustiveOptimum(s: RoundSnapshot): Money {
  const index = new Map(s.nodes.map((n, i) => [n.id, i]));
  let best: Money | null = null;
  const flexible = s.leases.filter((l) => !isFixedLease(l, s.now));
  const fixed = s.leases.filter((l) => isFixedLease(l, s.now));
  const surplus = (value: Money, nodeId: string, gpus: number) =>
    value.minus(s.nodes[index.get(nodeId)!].reservePrice).times(gpus);
  for (let mask = 0; mask < 1 << flexible.length; mask++) {
    const free = s.nodes.map(usableGpus);
    let base: Money = ZERO;
    for (const [i, l] of [...fixed.map((l) => [-1, l] as const), ...flexible.map((l, i) => [i, l] as const)]) {
      if (i >= 0 && !(mask & (1 << i))) {
        base = base.minus(s.params.preemptionPenalty.times(l.placement.reduce((t, p) => t + p.gpus, 0)));
        continue;
      }
      for (const p of l.placement) {
        free[index.get(p.node)!] -= p.gpus;
        base = base.plus(surplus(l.value, p.node, p.gpus));
      }
    }
    if (free.some((f) => f < 0)) continue;
    const search = (b: number, acc: Money): void => {
      if (b === s.bids.length) {
        if (!best || acc.greaterThan(best)) best = acc;
        return;
      }
      search(b + 1, acc);
      const theBid = s.bids[b];
      for (const offer of theBid.offers) {
        const eligible = s.nodes.map((n, i) => i).filter((i) => isEligible(s.nodes[i], theBid, offer));
        const groups = new Map<string, number[]>();
        for (const i of eligible)
          groups.set(contiguityGroupKey(s.nodes[i], theBid.contiguity), [
            ...(groups.get(contiguityGroupKey(s.nodes[i], theBid.contiguity)) ?? []),
            i,
          ]);
        for (const members of groups.values())
          for (const split of splits(
            theBid.gpus,
            members.map((i) => free[i]),
          )) {
            let gain: Money = ZERO;
            split.forEach((t, k) => (gain = gain.plus(surplus(offer.maxPrice, s.nodes[members[k]].id, t))));
            split.forEach((t, k) => (free[members[k]] -= t));
            search(b + 1, acc.plus(gain));
            split.forEach((t, k) => (free[members[k]] += t));
          }
      }
    };
    search(0, base);
  }
  return best ?? ZERO;
}

/**
 * A seeded mid-sized round (tens of nodes with NVLink racks and compliance tiers, hundreds of
 * bids of every contiguity, flexible leases): big enough for the packing and the local search
 * to matter, small enough for a unit test.
 */
export function mediumRound(seed: number, nodeCount = 48, bidCount = 240): RoundSnapshot {
  let state = seed >>> 0 || 1;
  const rnd = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const models = ['H100', 'A100'];
  const nodes = Array.from({ length: nodeCount }, (_, i) => {
    const model = models[i % 2];
    const rack = Math.floor(i / 2) % 6 < 2 ? `rack-${model}-${Math.floor(i / 12)}` : `n${i}`;
    const tier = Math.floor(i / 2) % 3;
    return node(`n${i}`, {
      gpuModel: model,
      region: i % 4 < 2 ? 'us' : 'eu',
      block: `${model}-b${Math.floor(i / 16)}`,
      nvlinkDomain: rack,
      compliance: tier === 2 ? ['hipaa'] : [],
      reserve: ((model === 'H100' ? 2 : 1.2) * [0.9, 1, 1.1][tier]).toFixed(2),
    });
  });
  const leases = nodes.flatMap((n, i) =>
    rnd() < 0.3
      ? [
          lease(`l${i}`, { [n.id]: 1 + Math.floor(rnd() * 4) }, (n.reservePrice.toNumber() * (1 + rnd())).toFixed(2), {
            gpuModel: n.gpuModel,
            preemptible: rnd() < 0.7,
          }),
        ]
      : [],
  );
  const bids = Array.from({ length: bidCount }, (_, i) => {
    const gpus = pick([1, 1, 2, 2, 4, 8, 8, 16, 32]);
    const contiguity = gpus <= 8 && rnd() < 0.5 ? 'node' : pick(['nvlink', 'block', 'none'] as const);
    const markup = 0.8 + 1.6 * rnd();
    const offers: Record<string, string> = { H100: (2 * markup).toFixed(2) };
    if (rnd() < 0.4) offers.A100 = (1.2 * markup * (0.8 + 0.3 * rnd())).toFixed(2);
    return bid(`b${i}`, gpus, offers, {
      contiguity,
      regions: rnd() < 0.3 ? [pick(['us', 'eu'])] : [],
      compliance: rnd() < 0.1 ? ['hipaa'] : [],
    });
  });
  return snapshot({ nodes, leases, bids });
}
