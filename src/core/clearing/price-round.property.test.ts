import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import { contiguityGroupKey, isEligible, isFixedLease, usableGpus } from '../market/node-eligibility.js';
import type { RoundResult, RoundSnapshot } from '../market/types.js';
import { HighsBackend } from '../solvers/highs-backend.js';
import { checkResult } from './check-result.js';
import { clearRound } from './clear-round.js';
import { priceDecisions, type RoundPrices } from './price-round.js';
import { mediumRound, roundArbitrary } from './random-rounds.test-helpers.js';
import { bid, node, snapshot } from './snapshot-fixtures.js';

/**
 * The price rules of market.md section 5a, checked on random rounds against an independent,
 * brute-force reading of the rules (not the pricing code's own data structures).
 */

/** Bids that could take GPUs of a group they are eligible for below their limit, at these node prices. */
function enviousBids(s: RoundSnapshot, r: Pick<RoundResult, 'placements' | 'kept' | 'nodePrices'>): string[] {
  const price = new Map(r.nodePrices.map((n) => [n.node, n.price]));
  const fixed = new Map<string, number>();
  const leased = new Map<string, number>();
  const kept = new Set(r.kept);
  for (const l of s.leases)
    for (const p of l.placement) {
      if (isFixedLease(l, s.now)) fixed.set(p.node, (fixed.get(p.node) ?? 0) + p.gpus);
      else if (kept.has(l.id)) leased.set(p.node, (leased.get(p.node) ?? 0) + p.gpus);
    }
  const placed = new Set(r.placements.map((p) => p.bidId));
  const envious: string[] = [];
  for (const bid of s.bids) {
    if (placed.has(bid.id)) continue;
    const hit = bid.offers.some((offer) => {
      const groups = new Map<string, { cost: Money; count: number }[]>();
      for (const n of s.nodes) {
        const contestable = usableGpus(n) - (fixed.get(n.id) ?? 0);
        if (!isEligible(n, bid, offer) || contestable <= 0) continue;
        const key = contiguityGroupKey(n, bid.contiguity);
        const held = leased.get(n.id) ?? 0;
        const levels = groups.get(key) ?? groups.set(key, []).get(key)!;
        levels.push(
          { cost: price.get(n.id)!, count: contestable - held },
          { cost: price.get(n.id)!.plus(s.params.preemptionPenalty), count: held },
        );
      }
      return [...groups.values()].some((levels) => {
        if (levels.reduce((t, l) => t + l.count, 0) < bid.gpus) return false;
        let need = bid.gpus;
        let cost = new Money(0);
        for (const l of [...levels].sort((a, b) => a.cost.comparedTo(b.cost))) {
          const take = Math.min(need, l.count);
          cost = cost.plus(l.cost.times(take));
          need -= take;
        }
        return cost.lessThan(offer.maxPrice.times(bid.gpus));
      });
    });
    if (hit) envious.push(bid.id);
  }
  return envious.sort();
}

const permute = <T>(xs: readonly T[], seed: number): T[] => {
  const out = [...xs];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

const backend = new HighsBackend();
const price = (s: RoundSnapshot, r: Pick<RoundResult, 'placements' | 'preempted'>) =>
  priceDecisions(s, r, { backend, deadline: Date.now() + 60_000, clock: Date.now });
const byNode = (p: RoundPrices) => Object.fromEntries(p.nodePrices.map((n) => [n.node, n.price.toFixed()]));

describe('node prices on random rounds (fast-check)', () => {
  it('hold rule 8, and list exactly the losing bids that could have bought below their limit', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (s) => {
        const r = await clearRound(s, { backend, timeLimitMs: 20_000 });
        expect(checkResult(s, r)).toEqual([]);
        expect(r.paradoxicallyRejected.map((p) => p.bidId)).toEqual(enviousBids(s, r));
      }),
      { numRuns: 200, seed: 20261206 },
    );
  });

  it('do not depend on the order of nodes, bids or leases in the snapshot', async () => {
    for (const seed of [1, 2, 3]) {
      const s = mediumRound(seed);
      const r = await clearRound(s, { backend, deterministic: true });
      const shuffled: RoundSnapshot = {
        ...s,
        nodes: permute(s.nodes, seed),
        bids: permute(s.bids, seed + 10),
        leases: permute(s.leases, seed + 20),
      };
      const [a, b] = [await price(s, r), await price(shuffled, r)];
      expect(byNode(b)).toEqual(byNode(a));
      expect(b.pools).toEqual(a.pools);
      expect(b.paradoxicallyRejected).toEqual(a.paradoxicallyRejected);
      expect([...b.placementPrices].sort()).toEqual([...a.placementPrices].sort());
    }
  });

  it('drop to the reserves where all demand is removed', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, async (s) => {
        const r = await clearRound(s, { backend, timeLimitMs: 20_000 });
        const kept: RoundSnapshot = { ...s, bids: s.bids.filter((b) => r.placements.some((p) => p.bidId === b.id)) };
        const prices = await price(kept, { placements: r.placements, preempted: [] });
        for (const n of prices.nodePrices)
          expect(n.price.toFixed()).toBe(s.nodes.find((x) => x.id === n.node)!.reservePrice.toFixed());
      }),
      { numRuns: 100, seed: 11 },
    );
  });

  it('never fall when a higher competing bid joins the losers, where demand sits on single nodes', async () => {
    // The lowest rents over groups of several nodes are not monotone node by node (see the
    // next test); node by node they are, whatever the payers around them.
    const oneNode = roundArbitrary.map((s) => ({
      ...s,
      bids: s.bids.map((b) => ({ ...b, contiguity: 'node' as const })),
    }));
    await fc.assert(
      fc.asyncProperty(oneNode, fc.integer({ min: 1, max: 300 }), async (s, raise) => {
        const r = await clearRound(s, { backend, timeLimitMs: 20_000 });
        const loser = s.bids.find((b) => !r.placements.some((p) => p.bidId === b.id));
        if (!loser) return;
        const rival = {
          ...loser,
          id: 'zz-rival',
          offers: loser.offers.map((o) => ({ ...o, maxPrice: o.maxPrice.plus(new Money(raise).dividedBy(100)) })),
        };
        const before = byNode(await price(s, r));
        const after = byNode(await price({ ...s, bids: [...s.bids, rival] }, r));
        for (const [node, p] of Object.entries(before))
          expect(new Money(after[node]).greaterThanOrEqualTo(p)).toBe(true);
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('the envy-free levels (no LP) never fall when a higher competing bid joins, over any groups', async () => {
    await fc.assert(
      fc.asyncProperty(roundArbitrary, fc.integer({ min: 1, max: 300 }), async (s, raise) => {
        const r = await clearRound(s, { backend, timeLimitMs: 20_000 });
        const loser = s.bids.find((b) => !r.placements.some((p) => p.bidId === b.id));
        if (!loser) return;
        const rival = {
          ...loser,
          id: 'zz-rival',
          offers: loser.offers.map((o) => ({ ...o, maxPrice: o.maxPrice.plus(new Money(raise).dividedBy(100)) })),
        };
        const levels = (snapshot: RoundSnapshot) =>
          priceDecisions(snapshot, r, { backend: null, deadline: Date.now() + 60_000, clock: Date.now });
        const before = byNode(await levels(s));
        const after = byNode(await levels({ ...s, bids: [...s.bids, rival] }));
        for (const [node, p] of Object.entries(before))
          expect(new Money(after[node]).greaterThanOrEqualTo(p)).toBe(true);
      }),
      { numRuns: 200, seed: 6 },
    );
  });

  it('over a group the lowest rents move: new demand on one node of a block can lower its neighbour', async () => {
    // A 16-GPU block gang at 2.50 is kept out by 8 x a + 8 x b >= 40: 2.50 each. A soc2 bid at
    // 3.00 that only a can serve lifts a to 3.00; the gang is then kept out with b at 2.00, so
    // the lowest rents lower b (total rent stays 24.00 per hour). docs/clearing.md says so.
    const s = snapshot({
      nodes: [node('a', { block: 'B', compliance: ['soc2'] }), node('b', { block: 'B' })],
      bids: [
        bid('wa', 8, { H100: '5.00' }, { contiguity: 'node', compliance: ['soc2'] }),
        bid('wb', 8, { H100: '5.00' }, { contiguity: 'node' }),
        bid('gang', 16, { H100: '2.50' }, { contiguity: 'block' }),
      ],
    });
    const r = await clearRound(s, { backend, deterministic: true });
    expect(r.placements.map((p) => p.bidId).sort()).toEqual(['wa', 'wb']);
    expect(byNode(await price(s, r))).toEqual({ a: '2.5', b: '2.5' });
    const rival = bid('soc2', 8, { H100: '3.00' }, { contiguity: 'node', compliance: ['soc2'] });
    expect(byNode(await price({ ...s, bids: [...s.bids, rival] }, r))).toEqual({ a: '3', b: '2' });
  });
});
