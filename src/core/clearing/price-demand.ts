import { ceilDiv, toMicros } from '../money/micros.js';
import type { Allocation } from '../solvers/greedy-heuristic.js';
import type { RoundProblem } from './round-problem.js';

/**
 * Phase 8a (prices, the inputs): what the round's allocation leaves for prices to explain.
 * Everything here is in whole micro-units per GPU-hour, so the rules below are exact.
 *
 * - Supply: per node, the GPUs a losing bid could contest (usable and not held by a fixed
 *   lease), how many of those are held by a kept preemptible lease (taking one costs the
 *   preemption penalty on top of the price), and whether a GPU was left idle (then the node's
 *   rent is 0: an idle GPU has no scarcity value).
 * - Payers: every placement and every kept lease, with its value and its GPUs per node. They
 *   should afford their nodes; where they cannot, the difference is uplift.
 * - Contenders: losing bids and displaced leases. Bids with the same shape (eligible nodes,
 *   contiguity, gang) compete for the same groups, so they form one class represented by its
 *   best value; the class's other bids can only be less envious than that one.
 */
export interface NodeSupply {
  readonly reserve: number;
  /** Usable GPUs (not unavailable): what a rent is charged on when the node is full. */
  readonly usable: number;
  /** Usable GPUs not held by a fixed lease. */
  readonly contestable: number;
  /** Contestable GPUs held by kept preemptible leases. */
  readonly leased: number;
  /** A usable GPU nobody holds: rent 0. */
  readonly idle: boolean;
}

export interface Payer {
  /** Placement: the bid's id; kept lease: the lease's id. */
  readonly id: string;
  readonly kind: 'placement' | 'lease';
  readonly value: number;
  readonly gpus: number;
  readonly shares: readonly { readonly node: number; readonly gpus: number }[];
}

/** GPUs of one node a contender may take: `free` at the node's price, `leased` at price plus penalty. */
export interface Member {
  readonly node: number;
  readonly free: number;
  readonly leased: number;
}

export interface ContenderClass {
  readonly kind: 'bid' | 'lease';
  readonly gpus: number;
  /** The class's best value and its holder (smallest id among equals): what prices must deter. */
  readonly best: { readonly id: string; readonly value: number };
  /** Every losing bid of the class, for the list of paradoxical rejections. */
  readonly bids: readonly { readonly id: string; readonly value: number; readonly gpuModel: string }[];
  /** Each group the class may take GPUs from (a displaced lease: its own GPUs, exactly). */
  readonly groups: readonly (readonly Member[])[];
}

/** A bid's demand on one node: the node's price may not fall below `price` without envy. */
export interface NodeBound {
  readonly node: number;
  readonly price: number;
  /** The bid's GPUs: envy is weighed per GPU. */
  readonly weight: number;
  readonly contender: number;
  /** The bid (or displaced lease's bid) and its value. */
  readonly id: string;
  readonly value: number;
}

/** A class's demand over a group of several nodes: the `gpus` cheapest must cost at least value x gpus. */
export interface GroupDemand {
  readonly contender: number;
  readonly members: readonly Member[];
}

export interface PricingDemand {
  readonly nodes: readonly NodeSupply[];
  readonly penalty: number;
  readonly payers: readonly Payer[];
  readonly classes: readonly ContenderClass[];
  readonly bounds: readonly NodeBound[];
  readonly groups: readonly GroupDemand[];
}

function supplyOf(problem: RoundProblem, allocation: Allocation): NodeSupply[] {
  const leased = new Int32Array(problem.nodes.length);
  const held = new Int32Array(problem.nodes.length);
  const displaced = new Set(allocation.preempted);
  for (const lease of problem.flexibleLeases)
    if (!displaced.has(lease.index))
      for (const s of lease.shares) {
        leased[s.node] += s.gpus;
        held[s.node] += s.gpus;
      }
  for (const a of allocation.assignments) for (const s of a.shares) held[s.node] += s.gpus;
  return problem.nodes.map((n, i) => ({
    reserve: toMicros(n.node.reservePrice),
    usable: n.node.gpus - n.node.unavailableGpus,
    contestable: n.capacity,
    leased: leased[i],
    idle: n.capacity - held[i] > 0,
  }));
}

function payersOf(problem: RoundProblem, allocation: Allocation): Payer[] {
  const payers: Payer[] = [];
  for (const a of allocation.assignments) {
    const b = problem.bids[a.bid];
    const shares = [...a.shares].sort((x, y) => x.node - y.node);
    payers.push({ id: b.bid.id, kind: 'placement', value: toMicros(b.bid.offers[b.options[a.option].offerIndex].maxPrice), gpus: b.bid.gpus, shares });
  }
  const displaced = new Set(allocation.preempted);
  const flexible = new Map(problem.flexibleLeases.map((l) => [l.lease.id, l]));
  for (const lease of problem.snapshot.leases) {
    const f = flexible.get(lease.id);
    if (f && displaced.has(f.index)) continue;
    const shares = lease.placement.map((s) => ({ node: problem.nodeIndex.get(s.node)!, gpus: s.gpus })).sort((x, y) => x.node - y.node);
    payers.push({ id: lease.id, kind: 'lease', value: toMicros(lease.value), gpus: shares.reduce((t, s) => t + s.gpus, 0), shares });
  }
  return payers;
}

function classesOf(problem: RoundProblem, allocation: Allocation, nodes: readonly NodeSupply[]): ContenderClass[] {
  const member = (n: number): Member => ({ node: n, free: nodes[n].contestable - nodes[n].leased, leased: nodes[n].leased });
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  const byShape = new Map<string, { gpus: number; best: { id: string; value: number }; bids: ContenderClass['bids'][number][]; groups: Member[][] }>();
  for (const b of problem.bids) {
    if (placed.has(b.index)) continue;
    for (const option of b.options) {
      const value = toMicros(b.bid.offers[option.offerIndex].maxPrice);
      const shape = `${option.eligibilityKey}|${b.bid.contiguity}|${b.bid.gpus}`;
      let c = byShape.get(shape);
      if (!c) byShape.set(shape, (c = { gpus: b.bid.gpus, best: { id: b.bid.id, value }, bids: [], groups: option.groups.map((g) => g.nodes.map(member)) }));
      else if (value > c.best.value || (value === c.best.value && b.bid.id < c.best.id)) c.best = { id: b.bid.id, value };
      c.bids.push({ id: b.bid.id, value, gpuModel: option.gpuModel });
    }
  }
  const classes: ContenderClass[] = [...byShape.values()].map((c) => ({ kind: 'bid' as const, ...c }));
  // A displaced lease could only have kept its own GPUs, which are free to take now (no penalty).
  for (const l of allocation.preempted) {
    const lease = problem.flexibleLeases[l];
    const value = toMicros(lease.lease.value);
    classes.push({ kind: 'lease', gpus: lease.gpus, best: { id: lease.lease.bidId, value }, bids: [], groups: [lease.shares.map((s) => ({ node: s.node, free: s.gpus, leased: 0 }))] });
  }
  return classes;
}

/**
 * The lowest price of one node that keeps a class out of it: taking `gpus` there costs
 * gpus x price, plus the penalty for every GPU beyond its free ones.
 */
export function nodeBound(gpus: number, value: number, m: Member, penalty: number): number {
  const displacing = Math.max(0, gpus - m.free);
  return ceilDiv(value * gpus - penalty * displacing, gpus);
}

/** Bids of a class that set floors of their own (the best first); the class's lower bids rarely matter. */
const FLOORS_PER_CLASS = 4;

export function buildPricingDemand(problem: RoundProblem, allocation: Allocation): PricingDemand {
  const nodes = supplyOf(problem, allocation);
  const penalty = toMicros(problem.snapshot.params.preemptionPenalty);
  const classes = classesOf(problem, allocation, nodes);
  const bounds: NodeBound[] = [];
  const groups: GroupDemand[] = [];
  classes.forEach((c, index) => {
    // The best few bids of a class each set a floor, so the LP weighs how many bids a lower price would let in.
    const top = c.bids.length > 0 ? [...c.bids].sort((a, b) => b.value - a.value || (a.id < b.id ? -1 : 1)).slice(0, FLOORS_PER_CLASS) : [c.best];
    for (const members of c.groups) {
      if (members.length > 1) {
        groups.push({ contender: index, members });
        continue;
      }
      for (const bid of top) {
        const price = nodeBound(c.gpus, bid.value, members[0], penalty);
        if (price > nodes[members[0].node].reserve) bounds.push({ node: members[0].node, price, weight: c.gpus, contender: index, id: bid.id, value: bid.value });
      }
    }
  });
  return { nodes, penalty, payers: payersOf(problem, allocation), classes, bounds, groups };
}
