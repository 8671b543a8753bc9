import { describe, expect, it } from 'vitest';
import { Money } from '../money/money.js';
import type { RoundResult, RoundSnapshot } from '../market/types.js';
import { HighsBackend } from '../solvers/highs-backend.js';
import { LpSolverBackend } from '../solvers/lp-solver-backend.js';
import { checkResult } from './check-result.js';
import { clearRound } from './clear-round.js';
import { mediumRound } from './random-rounds.test-helpers.js';
import type { SolveRequest } from './solver-port.js';
import { bid, lease, node, snapshot } from './snapshot-fixtures.js';

async function clear(s: RoundSnapshot, solver: 'highs' | 'lp-solver' = 'highs'): Promise<RoundResult> {
  const backend = solver === 'highs' ? new HighsBackend() : new LpSolverBackend();
  const result = await clearRound(s, { backend, timeLimitMs: 20_000 });
  expect(checkResult(s, result)).toEqual([]);
  return result;
}

const placementOf = (r: RoundResult, id: string) => r.placements.find((p) => p.bidId === id);
const lossOf = (r: RoundResult, id: string) => r.losses.find((l) => l.bidId === id)?.reason;
const priceOf = (r: RoundResult, gpuModel = 'H100', region = 'us-east') =>
  r.prices.find((p) => p.gpuModel === gpuModel && p.region === region)!;

describe('clearRound: contiguity', () => {
  const cases = [
    {
      name: 'node: an 8-GPU gang takes the one node with 8 free GPUs, not two half-free ones',
      nodes: [node('a', { unavailableGpus: 4 }), node('b', { unavailableGpus: 4 }), node('c', { reserve: '1.50' })],
      contiguity: 'node' as const,
      gpus: 8,
      expectNodes: ['c'],
    },
    {
      name: 'nvlink: a 16-GPU gang stays inside one NVLink domain',
      nodes: [
        node('a', { nvlinkDomain: 'rack-1', block: 'b' }),
        node('b', { nvlinkDomain: 'rack-1', block: 'b', reserve: '1.40' }),
        node('c', { nvlinkDomain: 'rack-2', block: 'b' }),
      ],
      contiguity: 'nvlink' as const,
      gpus: 16,
      expectNodes: ['a', 'b'],
    },
    {
      name: 'block: a 16-GPU gang stays inside one fabric block',
      nodes: [node('a', { block: 'b1' }), node('b', { block: 'b2' }), node('c', { block: 'b2', reserve: '1.40' })],
      contiguity: 'block' as const,
      gpus: 16,
      expectNodes: ['b', 'c'],
    },
    {
      name: 'none: a 12-GPU gang spreads over the cheapest nodes anywhere',
      nodes: [node('a', { block: 'b1' }), node('b', { block: 'b2' }), node('c', { block: 'b3', reserve: '1.40' })],
      contiguity: 'none' as const,
      gpus: 12,
      expectNodes: ['a', 'b'],
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const r = await clear(
        snapshot({ nodes: c.nodes, bids: [bid('x', c.gpus, { H100: '3.00' }, { contiguity: c.contiguity })] }),
      );
      expect(
        placementOf(r, 'x')
          ?.nodes.map((s) => s.node)
          .sort(),
      ).toEqual(c.expectNodes);
    });

  it('a small none gang still wins when a bigger one with the same constraints cannot fit', async () => {
    // The candidate groups are memoised per eligibility; the gang size must be part of that key.
    const s = snapshot({
      nodes: [node('a'), node('b')],
      bids: [bid('big', 64, { H100: '3.00' }), bid('small', 4, { H100: '2.00' })],
    });
    const r = await clear(s);
    expect(r.placements.map((p) => p.bidId)).toEqual(['small']);
    expect(lossOf(r, 'big')).toBe('no_capacity_for_contiguity');
  });

  it('a gang no group can hold loses with no_capacity_for_contiguity', async () => {
    const s = snapshot({
      nodes: [node('a', { block: 'b1' }), node('b', { block: 'b2' })],
      bids: [bid('x', 16, { H100: '3.00' }, { contiguity: 'block' })],
    });
    expect(lossOf(await clear(s), 'x')).toBe('no_capacity_for_contiguity');
  });
});

describe('clearRound: offers, reserves and hard constraints', () => {
  it('substitution: a bid outbid on H100 wins its cheaper A100 offer', async () => {
    const s = snapshot({
      nodes: [node('h'), node('a', { gpuModel: 'A100', reserve: '0.80' })],
      bids: [bid('rich', 8, { H100: '4.00' }), bid('flex', 8, { H100: '3.00', A100: '1.50' })],
    });
    const r = await clear(s);
    expect(placementOf(r, 'rich')?.gpuModel).toBe('H100');
    expect(placementOf(r, 'flex')).toMatchObject({ gpuModel: 'A100', nodes: [{ node: 'a', gpus: 8 }] });
  });

  it('reserves: no placement where the node asks more than the offer, and the loss says so', async () => {
    const s = snapshot({
      nodes: [node('a', { reserve: '2.00' })],
      bids: [bid('low', 1, { H100: '1.99' }), bid('wrong', 1, { L40S: '9.00' })],
    });
    const r = await clear(s);
    expect(r.placements).toEqual([]);
    expect(lossOf(r, 'low')).toBe('below_reserve');
    expect(lossOf(r, 'wrong')).toBe('no_matching_nodes');
  });

  it('hard constraints: region, compliance and memory exclude nodes', async () => {
    const s = snapshot({
      nodes: [node('eu', { region: 'eu-west', compliance: ['soc2'] }), node('us', { gpuMemoryGb: 40 })],
      bids: [
        bid('x', 2, { H100: '3.00' }, { regions: ['eu-west'], compliance: ['soc2'], minGpuMemoryGb: 80 }),
        bid('y', 2, { H100: '3.00' }, { compliance: ['hipaa'] }),
      ],
    });
    const r = await clear(s);
    expect(placementOf(r, 'x')?.nodes).toEqual([{ node: 'eu', gpus: 2 }]);
    expect(lossOf(r, 'y')).toBe('no_matching_nodes');
  });
});

describe('clearRound: leases and preemption', () => {
  const eightGpuNode = [node('a')];
  it('a non-preemptible lease is kept even against a far higher bid', async () => {
    const s = snapshot({
      nodes: eightGpuNode,
      leases: [lease('l', { a: 8 }, '1.10', { preemptible: false })],
      bids: [bid('x', 8, { H100: '9.00' }, { contiguity: 'node' })],
    });
    const r = await clear(s);
    expect(r.kept).toEqual(['l']);
    expect(lossOf(r, 'x')).toBe('no_capacity_for_contiguity');
  });

  it('a preemptible lease inside its protected run is kept', async () => {
    const s = snapshot({
      nodes: eightGpuNode,
      leases: [lease('l', { a: 8 }, '1.10', { protectedUntil: '2026-11-21T10:05:00Z' })],
      bids: [bid('x', 8, { H100: '9.00' })],
    });
    expect((await clear(s)).kept).toEqual(['l']);
  });

  it('preemption that pays: displacing gains more than the penalty', async () => {
    // Bid surplus (3.00-1.00)x8 = 16 > lease surplus (1.50-1.00)x8 + penalty 0.50x8 = 8.
    const s = snapshot({
      nodes: eightGpuNode,
      leases: [lease('l', { a: 8 }, '1.50')],
      bids: [bid('x', 8, { H100: '3.00' }, { contiguity: 'node' })],
    });
    const r = await clear(s);
    expect(r.preempted).toEqual(['l']);
    expect(placementOf(r, 'x')).toBeDefined();
    expect(r.welfare.toFixed(4)).toBe('12.0000');
  });

  it('preemption that does not clear the penalty leaves the lease running', async () => {
    // Bid surplus (1.90-1.00)x8 = 7.2 < 8: displacing would lower welfare.
    const s = snapshot({
      nodes: eightGpuNode,
      leases: [lease('l', { a: 8 }, '1.50')],
      bids: [bid('x', 8, { H100: '1.90' }, { contiguity: 'node' })],
    });
    const r = await clear(s);
    expect(r.kept).toEqual(['l']);
    expect(lossOf(r, 'x')).toBe('outbid');
  });
});

describe('clearRound: prices (market.md section 5a)', () => {
  const nodePrice = (r: RoundResult, id: string) => r.nodePrices.find((n) => n.node === id)!.price.toFixed(2);

  it('a node held by a lease that cannot be displaced is priced by the bid it turns away, as far as the lease can pay', async () => {
    const s = snapshot({
      nodes: [node('a')],
      leases: [lease('l', { a: 8 }, '1.50', { preemptible: false })],
      bids: [bid('waiting', 8, { H100: '2.00' }, { contiguity: 'node' })],
    });
    const r = await clear(s);
    expect(lossOf(r, 'waiting')).toBe('no_capacity_for_contiguity');
    // The GPUs are scarce (a 2.00 bid waits for them) but not contestable this round: the lease
    // pays for them up to its limit, and no further (that would be uplift for scarcity alone).
    expect(nodePrice(r, 'a')).toBe('1.50');
    expect(r.keptPrices).toEqual([{ leaseId: 'l', unitPrice: new Money('1.50'), uplift: new Money(0) }]);
    // Nothing in the pool is contestable: the index is its lowest node price, set by no loser.
    expect(priceOf(r)).toMatchObject({ price: new Money('1.5'), marginalBidId: null });
    expect(r.paradoxicallyRejected).toEqual([]);
  });

  it('an idle pool is priced at its cheapest reserve, with no marginal bid', async () => {
    const s = snapshot({
      nodes: [
        node('a', { reserve: '1.20' }),
        node('b', { reserve: '1.10' }),
        node('c', { reserve: '0.90', region: 'eu' }),
      ],
      bids: [bid('x', 4, { H100: '3.00' }, { regions: ['us-east'] })],
    });
    const r = await clear(s);
    expect(priceOf(r)).toMatchObject({ marginalBidId: null });
    expect(priceOf(r).price.toFixed(2)).toBe('1.10');
    expect(priceOf(r, 'H100', 'eu').price.toFixed(2)).toBe('0.90');
    // A node with an idle GPU has no rent: the winner pays its node's reserve.
    expect(placementOf(r, 'x')).toMatchObject({ unitPrice: new Money('1.10'), uplift: new Money(0) });
  });

  it('a full node is priced at the best value it turned away, which is recorded, and every winner pays it', async () => {
    const s = snapshot({
      nodes: [node('a')],
      bids: [
        bid('b1', 4, { H100: '3.00' }),
        bid('b2', 4, { H100: '2.50' }),
        bid('b3', 4, { H100: '2.00' }),
        bid('b4', 4, { H100: '1.50' }),
      ],
    });
    const r = await clear(s);
    expect(r.placements.map((p) => [p.bidId, p.unitPrice.toFixed(2)]).sort()).toEqual([
      ['b1', '2.00'],
      ['b2', '2.00'],
    ]);
    expect(nodePrice(r, 'a')).toBe('2.00');
    expect(priceOf(r)).toMatchObject({ marginalBidId: 'b3', vwap: new Money('2.00'), soldGpus: 8 });
    expect(r.paradoxicallyRejected).toEqual([]);
  });

  it('a winner whose limit is below its node price pays its limit, and the difference is uplift', async () => {
    // A (6 GPUs) + C (2) beat B (4) + C. Keeping B out needs 2.80 on the node; C bid 1.50.
    const s = snapshot({
      nodes: [node('a')],
      bids: [bid('A', 6, { H100: '3.00' }), bid('B', 4, { H100: '2.80' }), bid('C', 2, { H100: '1.50' })],
    });
    const r = await clear(s);
    expect(r.placements.map((p) => p.bidId).sort()).toEqual(['A', 'C']);
    expect(nodePrice(r, 'a')).toBe('2.80');
    expect(placementOf(r, 'A')).toMatchObject({ unitPrice: new Money('2.80'), uplift: new Money(0) });
    expect(placementOf(r, 'C')).toMatchObject({ unitPrice: new Money('1.50'), uplift: new Money('1.30') });
    expect(r.paradoxicallyRejected).toEqual([]);
  });

  it('a soc2-only bid waiting for a protected soc2 node raises that node, not the rest of the pool', async () => {
    const s = snapshot({
      nodes: [node('soc', { compliance: ['soc2'] }), node('plain-1'), node('plain-2')],
      leases: [
        lease('held', { soc: 8 }, '3.00', { protectedUntil: '2026-11-21T11:00:00Z' }),
        lease('busy', { 'plain-1': 4 }, '1.50'),
      ],
      bids: [bid('needs-soc2', 1, { H100: '2.60' }, { compliance: ['soc2'] }), bid('anywhere', 2, { H100: '1.40' })],
    });
    const r = await clear(s);
    expect(lossOf(r, 'needs-soc2')).toBe('no_capacity_for_contiguity');
    // The soc2 node is held by a protected lease that pays for its scarcity (the soc2 bid waits);
    // the plain nodes have idle GPUs and the pool index stays at their reserve.
    expect(nodePrice(r, 'soc')).toBe('2.60');
    expect(r.keptPrices.find((k) => k.leaseId === 'held')?.unitPrice.toFixed(2)).toBe('2.60');
    expect([nodePrice(r, 'plain-1'), nodePrice(r, 'plain-2')]).toEqual(['1.00', '1.00']);
    expect(priceOf(r).price.toFixed(2)).toBe('1.00');
  });

  it('a soc2-only bid outbid on the soc2 node pays soc2 rent there; the plain nodes stay at their reserve', async () => {
    const s = snapshot({
      nodes: [node('soc', { compliance: ['soc2'] }), node('plain-1'), node('plain-2')],
      bids: [
        bid('soc-winner', 8, { H100: '3.00' }, { compliance: ['soc2'], contiguity: 'node' }),
        bid('soc-loser', 1, { H100: '2.60' }, { compliance: ['soc2'] }),
        bid('anywhere', 2, { H100: '1.40' }),
      ],
    });
    const r = await clear(s);
    expect(placementOf(r, 'soc-winner')?.nodes).toEqual([{ node: 'soc', gpus: 8 }]);
    expect(lossOf(r, 'soc-loser')).toBe('outbid');
    expect(nodePrice(r, 'soc')).toBe('2.60');
    expect(nodePrice(r, 'plain-1')).toBe('1.00');
    expect(nodePrice(r, 'plain-2')).toBe('1.00');
    expect(priceOf(r)).toMatchObject({
      price: new Money('1.00'),
      maxNodePrice: new Money('2.60'),
      marginalBidId: null,
    });
    expect(placementOf(r, 'anywhere')?.unitPrice.toFixed(2)).toBe('1.00');
  });

  it('a block gang turned away is kept out at the lowest block rents its winners can afford; the other block is unmoved', async () => {
    const us = { regions: ['us-east'] };
    const s = snapshot({
      nodes: [
        node('a1', { block: 'A' }),
        node('a2', { block: 'A', reserve: '1.40' }),
        node('b1', { block: 'B', region: 'eu' }),
        node('b2', { block: 'B', region: 'eu' }),
      ],
      bids: [
        bid('rich', 8, { H100: '3.00' }, { contiguity: 'node', ...us }),
        bid('poor', 8, { H100: '2.00' }, { contiguity: 'node', ...us }),
        bid('gang', 16, { H100: '2.30' }, { contiguity: 'block', ...us }),
      ],
    });
    const r = await clear(s);
    expect(lossOf(r, 'gang')).toBe('outbid');
    expect(placementOf(r, 'rich')?.nodes).toEqual([{ node: 'a1', gpus: 8 }]);
    // Keeping the gang out needs 8 x a1 + 8 x a2 >= 16 x 2.30 = 36.80. One common level (2.30
    // each) would charge 'poor' above its 2.00; the lowest rents that 'poor' can afford put
    // a2 at 2.00 and a1 at 36.80 / 8 - 2.00 = 2.60.
    expect([nodePrice(r, 'a1'), nodePrice(r, 'a2')]).toEqual(['2.60', '2.00']);
    expect(r.placements.map((p) => [p.bidId, p.unitPrice.toFixed(2), p.uplift.toFixed(2)]).sort()).toEqual([
      ['poor', '2.00', '0.00'],
      ['rich', '2.60', '0.00'],
    ]);
    expect([nodePrice(r, 'b1'), nodePrice(r, 'b2')]).toEqual(['1.00', '1.00']);
    expect(r.paradoxicallyRejected).toEqual([]);
  });
});

describe('clearRound: solvers', () => {
  it('javascript-lp-solver and HiGHS reach the same welfare on a small round', async () => {
    const s = snapshot({
      nodes: [
        node('a'),
        node('b', { reserve: '1.30', block: 'block-a' }),
        node('c', { gpuModel: 'A100', reserve: '0.70' }),
      ],
      leases: [lease('l', { a: 3 }, '1.60')],
      bids: [
        bid('x', 8, { H100: '2.50', A100: '1.40' }, { contiguity: 'block' }),
        bid('y', 6, { H100: '2.20' }, { contiguity: 'node' }),
        bid('z', 4, { A100: '1.10' }),
      ],
    });
    const [highs, lpSolver] = [await clear(s, 'highs'), await clear(s, 'lp-solver')];
    expect(highs.status).toBe('optimal');
    expect(lpSolver.welfare.toFixed(4)).toBe(highs.welfare.toFixed(4));
  });

  it('the greedy solver alone still returns a valid result, marked heuristic', async () => {
    const s = snapshot({ nodes: [node('a')], bids: [bid('x', 4, { H100: '2.00' })] });
    const r = await clearRound(s, { backend: null });
    expect(r.status).toBe('heuristic');
    expect(checkResult(s, r)).toEqual([]);
  });
});

describe('clearRound: packing', () => {
  it('keeps the compliant node for the gang that needs it, where the greedy gives it to a gang that could run anywhere', async () => {
    // Same value, same size: the greedy takes x first and puts it on the cheapest node, h.
    const s = snapshot({
      nodes: [node('h', { compliance: ['hipaa'], reserve: '1.10' }), node('n', { reserve: '1.20' })],
      bids: [
        bid('x', 8, { H100: '3.00' }, { contiguity: 'node' }),
        bid('z', 8, { H100: '3.00' }, { contiguity: 'node', compliance: ['hipaa'] }),
      ],
    });
    const r = await clear(s);
    expect((r.stats.heuristicWelfare as number).toFixed(2)).toBe('15.20');
    expect(Object.fromEntries(r.placements.map((p) => [p.bidId, p.nodes[0].node]))).toEqual({ x: 'n', z: 'h' });
    expect(r.status).toBe('optimal');
  });
});

describe('clearRound: mid-sized rounds', () => {
  it('keeps 28% of the budget for the fill and the prices in a cold round, 15% in a warm one', async () => {
    // A clock that ticks once per reading: the search (no solver) runs until the phases' end.
    const clear = async (cold: boolean) => {
      let t = 0;
      const ticking = () => t++;
      return clearRound(mediumRound(3), { backend: null, clock: ticking, timeLimitMs: 2_000, cold });
    };
    const warm = await clear(false);
    const cold = await clear(true);
    expect(warm.stats.phases.search).toBeGreaterThanOrEqual(0.84 * 2_000);
    expect(cold.stats.phases.search).toBeLessThanOrEqual(0.73 * 2_000);
    expect(cold.stats.phases.search).toBeGreaterThanOrEqual(0.71 * 2_000);
  });

  it('keeps four times what the candidates took for the fill and the prices, up to 40% of the budget', async () => {
    // A clock that ticks once per reading, except that the candidates phase (the third reading:
    // the round's start and the phase clock's come first) appears to take `candidatesMs`. The
    // search runs (no solver) until the searching phases' end; returns when that was.
    const searchEnd = async (candidatesMs: number) => {
      let reads = 0;
      const slowCandidates = () => (++reads >= 3 ? reads + candidatesMs : reads);
      const result = await clearRound(mediumRound(3), { backend: null, clock: slowCandidates, timeLimitMs: 2_000 });
      const { candidates, heuristic, search } = result.stats.phases;
      expect(candidates).toBeGreaterThan(candidatesMs);
      return candidates + heuristic + search;
    };
    // The search checks the clock between moves: it ends up to a few dozen ticks past its deadline.
    const near = (end: number, expected: number) => {
      expect(end).toBeGreaterThanOrEqual(expected - 5);
      expect(end).toBeLessThanOrEqual(expected + 50);
    };
    // 1 ms of candidates: the 15% share (300 ms) is the larger.
    near(await searchEnd(0), 2_000 - 300);
    // 150 ms: four times that, 604 ms (151 measured), is kept instead.
    near(await searchEnd(150), 2_000 - 604);
    // 400 ms: four times would be 1,604 ms; the tail stops at 40% of the budget.
    near(await searchEnd(400), 2_000 - 800);
  });

  it('runs the LP-support MIP where 3 s are left for it, not in a 1 s round', async () => {
    // A clock that stands still: every phase runs to its end, and the time left is the budget's.
    const phases = async (timeLimitMs: number) => {
      const still = () => 0;
      const result = await clearRound(mediumRound(7), {
        backend: new HighsBackend(still),
        clock: still,
        timeLimitMs,
        neighbourhoods: false,
      });
      return Object.keys(result.stats.phases);
    };
    expect(await phases(10_000)).toContain('support');
    expect(await phases(1_000)).not.toContain('support');
  });

  it('gives the LP bound a longer deadline in a cold round, whose HiGHS runs in baseline code', async () => {
    // A clock that ticks once per reading, and a solver that records the bound's first deadline.
    const firstDeadline = async (cold: boolean) => {
      let t = 0;
      const deadlines: number[] = [];
      const recording = {
        name: 'recording',
        solve: (request: SolveRequest) => {
          deadlines.push(request.deadline);
          return Promise.resolve({
            status: 'none' as const,
            colValue: null,
            objective: null,
            bound: null,
            rowDual: null,
          });
        },
      };
      await clearRound(mediumRound(3), { backend: recording, clock: () => t++, timeLimitMs: 2_000, cold });
      return deadlines[0];
    };
    // Warm: 60% of the 85% left for work; cold: 80% of the 72% (a few ticks of the clock on top).
    expect(await firstDeadline(false)).toBeGreaterThanOrEqual(0.6 * 0.85 * 2_000 - 1);
    expect(await firstDeadline(false)).toBeLessThan(0.6 * 0.85 * 2_000 + 50);
    expect(await firstDeadline(true)).toBeGreaterThanOrEqual(0.8 * 0.72 * 2_000 - 1);
    expect(await firstDeadline(true)).toBeLessThan(0.8 * 0.72 * 2_000 + 50);
  });

  it('deterministic mode gives the same result for the same snapshot, however long the phases take', async () => {
    const s = mediumRound(11);
    const one = await clearRound(s, { backend: new HighsBackend(), deterministic: true, timeLimitMs: 60_000 });
    const two = await clearRound(s, { backend: new HighsBackend(), deterministic: true, timeLimitMs: 60_000 });
    const decisions = (r: RoundResult) => JSON.stringify({ ...r, stats: undefined });
    expect(decisions(two)).toBe(decisions(one));
    expect(one.stats.cutShort).toBe(false);
    expect(checkResult(s, one)).toEqual([]);
  });

  it('reads time only from the clock it is given', async () => {
    const s = mediumRound(11);
    const decisions = (r: RoundResult) => JSON.stringify({ ...r, stats: undefined });
    const wall = await clearRound(s, { backend: new HighsBackend(), deterministic: true, timeLimitMs: 60_000 });
    // A clock that stands still: nothing is timed and nothing cut short, and the decisions are the wall clock's.
    const still = () => 1_000_000;
    const frozen = await clearRound(s, {
      backend: new HighsBackend(still),
      clock: still,
      deterministic: true,
      timeLimitMs: 60_000,
    });
    expect(frozen.stats.solveMs).toBe(0);
    expect(Object.values(frozen.stats.phases as Record<string, number>).every((ms) => ms === 0)).toBe(true);
    expect(frozen.stats.cutShort).toBe(false);
    expect(decisions(frozen)).toBe(decisions(wall));
    // A clock that runs a second per reading: the round is over its limit at once, and still valid.
    let t = 0;
    const racing = () => (t += 1_000);
    const rushed = await clearRound(s, { backend: new HighsBackend(racing), clock: racing, timeLimitMs: 10_000 });
    expect(rushed.stats.cutShort).toBe(true);
    expect(rushed.stats.solveMs).toBeGreaterThan(10_000);
    expect(checkResult(s, rushed)).toEqual([]);
  });

  it('is never worse than the greedy, reports the LP bound and stays within 1% of it', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const s = mediumRound(seed);
      const r = await clearRound(s, { backend: new HighsBackend(), deterministic: true, timeLimitMs: 60_000 });
      expect(checkResult(s, r)).toEqual([]);
      expect(r.welfare.toNumber()).toBeGreaterThanOrEqual((r.stats.heuristicWelfare as number) - 1e-6);
      expect(r.upperBound).not.toBeNull();
      expect(r.welfare.toNumber()).toBeGreaterThanOrEqual(0.99 * r.upperBound!.toNumber());
      expect(['optimal', 'feasible']).toContain(r.status);
    }
  });

  it('above 2,000 live bids, where no MIP parts run, the MIP neighbourhoods still re-pack after the search', async () => {
    const s = mediumRound(5, 160, 2_400);
    const r = await clearRound(s, { backend: new HighsBackend(), timeLimitMs: 2_000 });
    expect(checkResult(s, r)).toEqual([]);
    expect(r.stats.parts).toBe(0);
    expect(r.stats.phases.neighbourhoods).toBeDefined();
    expect(r.welfare.toNumber()).toBeGreaterThanOrEqual((r.stats.heuristicWelfare as number) - 1e-6);
  });
});
