import { ZERO } from '../money/money.js';
import { contiguityGroupKey, isFixedLease, meetsHardConstraints, usableGpus } from '../market/node-eligibility.js';
import type { Contiguity, LossReason, MarketNode, OpenBid, RoundSnapshot, RunningLease } from '../market/types.js';

/**
 * Phase 1 (candidates): the snapshot turned into index-based data that the heuristic, the MIP
 * and the LP bound share. Numbers here are solver coefficients only; every reported amount is
 * recomputed in exact decimal from the snapshot.
 */
export interface ProblemNode {
  readonly index: number;
  readonly node: MarketNode;
  readonly reserve: number;
  /** GPUs the market may use this round: usable GPUs minus those of fixed leases. */
  readonly capacity: number;
}

/** A preemptible lease past its protected run: kept or displaced, the solver decides. */
export interface FlexibleLease {
  readonly index: number;
  readonly lease: RunningLease;
  readonly shares: readonly { readonly node: number; readonly gpus: number }[];
  readonly gpus: number;
  /** Welfare of keeping it over displacing it: its surplus plus the penalty it avoids. */
  readonly keepGain: number;
}

/** Eligible nodes of one offer inside one contiguity group, cheapest reserve first. */
export interface Group {
  readonly key: string;
  readonly nodes: readonly number[];
  readonly capacity: number;
}

export interface BidOption {
  readonly offerIndex: number;
  readonly gpuModel: string;
  readonly value: number;
  /** Equal keys mean equal eligible node sets; the MIP and the bound share flow rows by it. */
  readonly eligibilityKey: string;
  readonly eligible: readonly number[];
  /** Groups whose eligible capacity (before leases that may be displaced) fits the gang. */
  readonly groups: readonly Group[];
}

/** An offer with eligible nodes that fixed leases fill: it would fit on the pool if they ended. */
export interface BlockedOffer {
  readonly offerIndex: number;
  readonly eligibilityKey: string;
  readonly eligible: readonly number[];
}

export interface ProblemBid {
  readonly index: number;
  readonly bid: OpenBid;
  readonly options: readonly BidOption[];
  /** Offers turned away only because fixed leases hold the GPUs: demand that prices must see. */
  readonly blocked: readonly BlockedOffer[];
  /** Why the bid cannot win whatever the others do; null when it has a candidate. */
  readonly loss: LossReason | null;
}

export interface RoundProblem {
  readonly snapshot: RoundSnapshot;
  readonly nodes: readonly ProblemNode[];
  readonly nodeIndex: ReadonlyMap<string, number>;
  readonly fixedLeases: readonly RunningLease[];
  readonly flexibleLeases: readonly FlexibleLease[];
  readonly bids: readonly ProblemBid[];
  readonly candidateCount: number;
}

export class SnapshotConsistencyError extends Error {}

function capacities(snapshot: RoundSnapshot, nodeIndex: Map<string, number>, fixed: RunningLease[]): number[] {
  const capacity = snapshot.nodes.map(usableGpus);
  for (const lease of fixed)
    for (const s of lease.placement) {
      const i = nodeIndex.get(s.node)!;
      capacity[i] -= s.gpus;
      if (capacity[i] < 0) throw new SnapshotConsistencyError(`leases: fixed leases overfill node ${s.node}`);
    }
  return capacity;
}

/** Memoised lookups: bids share filters, so eligible lists and groups are built once per key. */
class CandidateIndex {
  private readonly base = new Map<string, number[]>();
  private readonly cuts = new Map<string, number[]>();
  private readonly groupCache = new Map<string, Group[]>();

  constructor(private readonly nodes: readonly ProblemNode[]) {}

  /** Nodes meeting the hard constraints of (bid filter, model), sorted by reserve then index. */
  matching(bid: OpenBid, gpuModel: string): { key: string; list: number[] } {
    const key = `${gpuModel}|${[...bid.regions].sort().join(',')}|${[...bid.compliance].sort().join(',')}|${bid.minGpuMemoryGb}`;
    let list = this.base.get(key);
    if (!list) {
      const offer = { gpuModel, maxPrice: ZERO };
      list = this.nodes.filter((n) => meetsHardConstraints(n.node, bid, offer)).map((n) => n.index);
      list.sort((a, b) => this.nodes[a].reserve - this.nodes[b].reserve || a - b);
      this.base.set(key, list);
    }
    return { key, list };
  }

  /** The prefix of a matching list whose reserve is within the offer's limit (rule 6). */
  withinReserve(
    key: string,
    list: number[],
    maxPrice: OpenBid['offers'][number]['maxPrice'],
  ): { key: string; list: number[] } {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.nodes[list[mid]].node.reservePrice.lessThanOrEqualTo(maxPrice)) lo = mid + 1;
      else hi = mid;
    }
    const cutKey = `${key}|${lo}`;
    let cut = this.cuts.get(cutKey);
    if (!cut) this.cuts.set(cutKey, (cut = list.slice(0, lo)));
    return { key: cutKey, list: cut };
  }

  /**
   * Contiguity groups of the eligible nodes that fit the gang: in capacity after fixed leases, or in all usable GPUs.
   */
  groups(key: string, eligible: readonly number[], contiguity: Contiguity, gpus: number, usable = false): Group[] {
    // The gang size is part of the key for every contiguity: which groups fit depends on it.
    const cacheKey = `${key}|${contiguity}|${gpus}|${usable ? 'u' : 'c'}`;
    const cached = this.groupCache.get(cacheKey);
    if (cached) return cached;
    const size = (i: number) => (usable ? usableGpus(this.nodes[i].node) : this.nodes[i].capacity);
    const byKey = new Map<string, number[]>();
    for (const i of eligible) {
      if (size(i) <= 0) continue;
      const g = contiguityGroupKey(this.nodes[i].node, contiguity);
      const members = byKey.get(g);
      if (members) members.push(i);
      else byKey.set(g, [i]);
    }
    const groups: Group[] = [];
    for (const [g, members] of byKey) {
      const capacity = members.reduce((t, i) => t + size(i), 0);
      if (capacity >= gpus) groups.push({ key: g, nodes: members, capacity });
    }
    this.groupCache.set(cacheKey, groups);
    return groups;
  }
}

export function buildRoundProblem(snapshot: RoundSnapshot): RoundProblem {
  const nodeIndex = new Map(snapshot.nodes.map((n, i) => [n.id, i]));
  const fixed = snapshot.leases.filter((l) => isFixedLease(l, snapshot.now));
  const capacity = capacities(snapshot, nodeIndex, fixed);
  const nodes: ProblemNode[] = snapshot.nodes.map((node, index) => ({
    index,
    node,
    reserve: node.reservePrice.toNumber(),
    capacity: capacity[index],
  }));
  const penalty = snapshot.params.preemptionPenalty.toNumber();

  const flexibleLeases: FlexibleLease[] = snapshot.leases
    .filter((l) => !isFixedLease(l, snapshot.now))
    .map((lease, index) => {
      const shares = lease.placement.map((s) => ({ node: nodeIndex.get(s.node)!, gpus: s.gpus }));
      const gpus = shares.reduce((t, s) => t + s.gpus, 0);
      const value = lease.value.toNumber();
      const surplus = shares.reduce((t, s) => t + (value - nodes[s.node].reserve) * s.gpus, 0);
      return { index, lease, shares, gpus, keepGain: surplus + penalty * gpus };
    });

  const index = new CandidateIndex(nodes);
  let candidateCount = 0;
  const bids: ProblemBid[] = snapshot.bids.map((bid, bidIndex) => {
    let stage = 0; // 1: nodes match, 2: some within reserve, 3: some group fits the gang
    const options: BidOption[] = [];
    const blocked: BlockedOffer[] = [];
    bid.offers.forEach((offer, offerIndex) => {
      const matching = index.matching(bid, offer.gpuModel);
      if (matching.list.length === 0) return;
      stage = Math.max(stage, 1);
      const eligible = index.withinReserve(matching.key, matching.list, offer.maxPrice);
      if (eligible.list.length === 0) return;
      stage = Math.max(stage, 2);
      const groups = index.groups(eligible.key, eligible.list, bid.contiguity, bid.gpus);
      if (groups.length === 0) {
        if (index.groups(eligible.key, eligible.list, bid.contiguity, bid.gpus, true).length > 0)
          blocked.push({ offerIndex, eligibilityKey: eligible.key, eligible: eligible.list });
        return;
      }
      stage = 3;
      candidateCount += groups.length;
      options.push({
        offerIndex,
        gpuModel: offer.gpuModel,
        value: offer.maxPrice.toNumber(),
        eligibilityKey: eligible.key,
        eligible: eligible.list,
        groups,
      });
    });
    const loss: LossReason | null =
      stage === 3 ? null : (['no_matching_nodes', 'below_reserve', 'no_capacity_for_contiguity'] as const)[stage];
    return { index: bidIndex, bid, options, blocked, loss };
  });

  return { snapshot, nodes, nodeIndex, fixedLeases: fixed, flexibleLeases, bids, candidateCount };
}

/**
 * Welfare = solver objective + this offset. The objective counts bids and, for each flexible
 * lease, its keep gain; the offset adds fixed leases' surplus and charges every flexible lease
 * its penalty, which keeping it then refunds.
 */
export function objectiveOffset(problem: RoundProblem): number {
  let offset = 0;
  for (const lease of problem.fixedLeases) {
    const value = lease.value.toNumber();
    for (const s of lease.placement) offset += (value - problem.nodes[problem.nodeIndex.get(s.node)!].reserve) * s.gpus;
  }
  const penalty = problem.snapshot.params.preemptionPenalty.toNumber();
  for (const lease of problem.flexibleLeases) offset -= penalty * lease.gpus;
  return offset;
}
