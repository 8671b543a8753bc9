import { ceilDiv, toMicros } from '../money/micros.js';
import type { Allocation } from '../solvers/greedy-heuristic.js';
import { contiguityGroupKey } from '../market/node-eligibility.js';
import type { Contiguity } from '../market/types.js';
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
  /**
   * Scarcity: each single node of its eligible ones that could hold its gang if the GPUs of its
   * fixed leases were free (counted at the node's price). A fixed lease cannot be displaced this
   * round, but the GPUs it holds are as scarce as their neighbours: without this, a node full of
   * non-preemptible work would price at its reserve while the demand it turns away waits, and
   * pinning capacity would pay less than giving the market the freedom to preempt.
   */
  readonly groups: readonly (readonly Member[])[];
  /**
   * The groups of round-files.md's coherence rule: contestable GPUs only (not held by a fixed
   * lease), with enough of them for the gang. A loser that could buy below its limit here is a
   * paradoxical rejection.
   */
  readonly contested: readonly (readonly Member[])[];
}

/**
 * `contested`: demand for GPUs a loser could take this round (round-files.md's coherence rule;
 * unmet, it is a paradoxical rejection). `scarcity`: demand that only GPUs held by fixed leases
 * could meet; it prices those GPUs as scarce as they are, as far as their holders can pay.
 */
export type DemandKind = 'contested' | 'scarcity';

/** A bid's demand on one node: the node's price may not fall below `price` without envy. */
export interface NodeBound {
  readonly kind: DemandKind;
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
  readonly kind: DemandKind;
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

/**
 * Nodes that could hold the gang alone if the GPUs of their fixed leases were free: single-node
 * groups (any node for `node` contiguity; a node alone in its NVLink domain or block; for `none`
 * the only eligible node) that hold a fixed lease and have enough usable GPUs.
 */
function scarceNodes(problem: RoundProblem, nodes: readonly NodeSupply[], alone: Alone, eligible: readonly number[], contiguity: Contiguity, gpus: number): Member[][] {
  const out: Member[][] = [];
  for (const n of eligible) {
    const s = nodes[n];
    if (s.usable < gpus || s.usable === s.contestable) continue;
    const single = contiguity === 'node' || (contiguity === 'none' ? eligible.length === 1 : alone[contiguity][n] === 1);
    if (single) out.push([{ node: n, free: s.usable - s.leased, leased: s.leased }]);
  }
  return out;
}

/** Per node, 1 when it is the only node of its NVLink domain (or block). */
type Alone = Record<'nvlink' | 'block', Uint8Array>;

function aloneIn(problem: RoundProblem): Alone {
  const alone = (kind: 'nvlink' | 'block') => {
    const count = new Map<string, number>();
    const key = (i: number) => contiguityGroupKey(problem.nodes[i].node, kind);
    problem.nodes.forEach((_, i) => count.set(key(i), (count.get(key(i)) ?? 0) + 1));
    return Uint8Array.from(problem.nodes, (_, i) => (count.get(key(i)) === 1 ? 1 : 0));
  };
  return { nvlink: alone('nvlink'), block: alone('block') };
}

function classesOf(problem: RoundProblem, allocation: Allocation, nodes: readonly NodeSupply[]): ContenderClass[] {
  const alone = aloneIn(problem);
  const contestable = (n: number): Member => ({ node: n, free: nodes[n].contestable - nodes[n].leased, leased: nodes[n].leased });
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  type Draft = { gpus: number; best: { id: string; value: number }; bids: ContenderClass['bids'][number][]; groups: Member[][]; contested: Member[][] };
  const byShape = new Map<string, Draft>();
  for (const b of problem.bids) {
    if (placed.has(b.index)) continue;
    const offers = [
      ...b.options.map((o) => ({ offerIndex: o.offerIndex, eligibilityKey: o.eligibilityKey, eligible: o.eligible, contested: o.groups })),
      ...b.blocked.map((o) => ({ ...o, contested: [] })),
    ];
    for (const offer of offers) {
      const value = toMicros(b.bid.offers[offer.offerIndex].maxPrice);
      const shape = `${offer.eligibilityKey}|${b.bid.contiguity}|${b.bid.gpus}`;
      let c = byShape.get(shape);
      if (!c) {
        const groups = scarceNodes(problem, nodes, alone, offer.eligible, b.bid.contiguity, b.bid.gpus);
        byShape.set(shape, (c = { gpus: b.bid.gpus, best: { id: b.bid.id, value }, bids: [], groups, contested: offer.contested.map((g) => g.nodes.map(contestable)) }));
      } else if (value > c.best.value || (value === c.best.value && b.bid.id < c.best.id)) c.best = { id: b.bid.id, value };
      c.bids.push({ id: b.bid.id, value, gpuModel: b.bid.offers[offer.offerIndex].gpuModel });
    }
  }
  const classes: ContenderClass[] = [...byShape.values()].map((c) => ({ kind: 'bid' as const, ...c }));
  // A displaced lease could only have kept its own GPUs, which are free to take now (no penalty).
  for (const l of allocation.preempted) {
    const lease = problem.flexibleLeases[l];
    const value = toMicros(lease.lease.value);
    const own = [lease.shares.map((s) => ({ node: s.node, free: s.gpus, leased: 0 }))];
    classes.push({ kind: 'lease', gpus: lease.gpus, best: { id: lease.lease.bidId, value }, bids: [], groups: [], contested: own });
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
const FLOORS_PER_CLASS = 2;

export function buildPricingDemand(problem: RoundProblem, allocation: Allocation): PricingDemand {
  const nodes = supplyOf(problem, allocation);
  const penalty = toMicros(problem.snapshot.params.preemptionPenalty);
  const classes = classesOf(problem, allocation, nodes);
  const bounds: NodeBound[] = [];
  const groups: GroupDemand[] = [];
  classes.forEach((c, index) => {
    // The best few bids of a class each set a floor, so the LP weighs how many bids a lower price would let in.
    const top = c.bids.length > 0 ? [...c.bids].sort((a, b) => b.value - a.value || (a.id < b.id ? -1 : 1)).slice(0, FLOORS_PER_CLASS) : [c.best];
    const add = (kind: DemandKind, members: readonly Member[], bids: readonly { id: string; value: number }[]) => {
      if (members.length > 1) return void groups.push({ kind, contender: index, members });
      // A node with an idle GPU has rent 0 whatever the demand: a floor there can only be unmet
      // (the paradoxical check reads the classes, not the floors).
      if (nodes[members[0].node].idle) return;
      for (const bid of bids) {
        const price = nodeBound(c.gpus, bid.value, members[0], penalty);
        if (price > nodes[members[0].node].reserve) bounds.push({ kind, node: members[0].node, price, weight: c.gpus, contender: index, id: bid.id, value: bid.value });
      }
    };
    for (const members of c.contested) add('contested', members, top);
    // Nodes that fixed leases' GPUs would open to the class: the scarcity they show is new (its
    // best bid is enough for a soft floor). Demand for several nodes at once adds little here and
    // would double the LP, so it is left out.
    for (const members of c.groups) add('scarcity', members, [c.best]);
  });
  return { nodes, penalty, payers: payersOf(problem, allocation), classes, bounds, groups };
}
