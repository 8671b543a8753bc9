import { describe, expect, it } from 'vitest';
import { HighsBackend } from '../../solvers/highs-backend.js';
import { checkResult } from '../check-result.js';
import { clearRound } from '../clear-round.js';
import { mediumRound } from '../random-rounds.test-helpers.js';
import { buildRoundProblem } from '../round-problem.js';
import { bid, lease, node, snapshot } from '../snapshot-fixtures.js';
import { previousAllocation } from './previous-allocation.js';

describe('previousAllocation', () => {
  const s = snapshot({
    nodes: [node('a'), node('b', { reserve: '1.50' })],
    bids: [
      bid('kept', 4, { H100: '3.00' }, { contiguity: 'node' }),
      bid('moved', 4, { H100: '3.00' }, { contiguity: 'node' }),
      bid('new', 8, { H100: '2.00' }, { contiguity: 'node' }),
    ],
    leases: [lease('l1', { b: 4 }, '1.60')],
  });
  const problem = buildRoundProblem(s);
  const id = (a: { bid: number }) => problem.bids[a.bid].bid.id;
  const nodeId = (n: number) => problem.nodes[n].node.id;

  it('keeps the placements that are still valid, skips the others and fills the rest greedily', () => {
    const allocation = previousAllocation(problem, {
      placements: [
        // Still valid, on the dearer node although the cheaper one is free: kept as it was.
        { bidId: 'kept', gpuModel: 'H100', nodes: [{ node: 'b', gpus: 4 }] },
        { bidId: 'gone', gpuModel: 'H100', nodes: [{ node: 'a', gpus: 4 }] },
        // Split over two nodes although it needs one: placed afresh instead.
        {
          bidId: 'moved',
          gpuModel: 'H100',
          nodes: [
            { node: 'a', gpus: 2 },
            { node: 'b', gpus: 2 },
          ],
        },
      ],
      preempted: ['l1'],
    });
    const placed = new Map(allocation.assignments.map((a) => [id(a), a.shares.map((x) => [nodeId(x.node), x.gpus])]));
    expect(placed.get('kept')).toEqual([['b', 4]]);
    expect(placed.get('moved')).toEqual([['a', 4]]);
    // b holds 'kept' and the lease's 4 GPUs both, so the lease the previous round displaced stays.
    expect(placed.has('new')).toBe(false);
    expect(allocation.preempted).toEqual([]);
  });

  it('displaces a lease again where a kept placement needs its GPUs, and only there', () => {
    const needed = previousAllocation(problem, {
      placements: [{ bidId: 'new', gpuModel: 'H100', nodes: [{ node: 'b', gpus: 8 }] }],
      preempted: ['l1', 'unknown'],
    });
    expect(needed.preempted.map((l) => problem.flexibleLeases[l].lease.id)).toEqual(['l1']);
    expect(previousAllocation(problem, { placements: [], preempted: ['l1'] }).preempted).toEqual([]);
  });
});

describe('clearRound with the previous round', () => {
  it('starts from the previous result and never ends below it (deterministic, same round)', async () => {
    const s = mediumRound(11);
    const options = { backend: new HighsBackend(), timeLimitMs: 20_000, deterministic: true };
    const cold = await clearRound(s, options);
    const warm = await clearRound(s, { ...options, previous: cold });
    expect(checkResult(s, warm)).toEqual([]);
    expect(warm.welfare.toNumber()).toBeGreaterThanOrEqual(cold.welfare.toNumber() - 1e-6);
    expect(warm.stats.phases.previous).toBeDefined();
  });

  it('ignores placements of bids no longer open', async () => {
    const s = mediumRound(12);
    const previous = {
      placements: [{ bidId: 'no-such-bid', gpuModel: 'H100', nodes: [{ node: s.nodes[0].id, gpus: 1 }] }],
    };
    const result = await clearRound(s, { backend: null, previous });
    expect(checkResult(s, result)).toEqual([]);
    expect(result.placements.some((p) => p.bidId === 'no-such-bid')).toBe(false);
  });
});
