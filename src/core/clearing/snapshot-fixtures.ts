import { Money } from '../money/money.js';
import type { Contiguity, MarketNode, OpenBid, RoundSnapshot, RunningLease } from '../market/types.js';
import type { Allocation } from './allocation.js';
import type { RoundProblem } from './round-problem.js';

/**
 * Compact builders for hand-written round snapshots in tests: only what a case is about has
 * to be spelled out, the rest takes plain defaults.
 */
export const NOW = '2026-11-21T10:00:00Z';

export function node(
  id: string,
  over: Partial<Omit<MarketNode, 'reservePrice'>> & { reserve?: string } = {},
): MarketNode {
  const { reserve, ...rest } = over;
  return {
    id,
    provider: 'p-1',
    gpuModel: 'H100',
    gpuMemoryGb: 80,
    gpus: 8,
    unavailableGpus: 0,
    region: 'us-east',
    block: `block-${id}`,
    nvlinkDomain: id,
    compliance: [],
    reservePrice: new Money(reserve ?? '1.00'),
    ...rest,
  };
}

export function bid(
  id: string,
  gpus: number,
  offers: Record<string, string>,
  over: Partial<Omit<OpenBid, 'offers'>> = {},
): OpenBid {
  return {
    id,
    gpus,
    contiguity: 'none' as Contiguity,
    preemptible: false,
    offers: Object.entries(offers).map(([gpuModel, maxPrice]) => ({ gpuModel, maxPrice: new Money(maxPrice) })),
    regions: [],
    compliance: [],
    minGpuMemoryGb: 0,
    ...over,
  };
}

export function lease(
  id: string,
  placement: Record<string, number>,
  value: string,
  over: Partial<Omit<RunningLease, 'value' | 'placement'>> = {},
): RunningLease {
  return {
    id,
    bidId: `bid-of-${id}`,
    gpuModel: 'H100',
    value: new Money(value),
    preemptible: true,
    protectedUntil: null,
    placement: Object.entries(placement).map(([n, gpus]) => ({ node: n, gpus })),
    ...over,
  };
}

export function snapshot(parts: {
  nodes: MarketNode[];
  bids?: OpenBid[];
  leases?: RunningLease[];
  penalty?: string;
}): RoundSnapshot {
  return {
    version: 1,
    roundId: 'r-test',
    now: NOW,
    periodSeconds: 60,
    params: { preemptionPenalty: new Money(parts.penalty ?? '0.50') },
    nodes: parts.nodes,
    leases: parts.leases ?? [],
    bids: parts.bids ?? [],
  };
}

/** Where an allocation puts each bid: bid id to its nodes' ids, sorted. */
export function placedNodes(problem: RoundProblem, allocation: Allocation): Record<string, string[]> {
  return Object.fromEntries(
    allocation.assignments.map((a) => [
      problem.bids[a.bid].bid.id,
      a.shares.map((s) => problem.nodes[s.node].node.id).sort(),
    ]),
  );
}
