import { ceilDiv, toMicros } from '../money/micros.js';
import { contiguityGroupKey } from '../market/node-eligibility.js';
import type { Allocation } from './allocation.js';
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
 * - Floors: what a class that fits on one node asks of that node's price, kept per node (the
 *   highest few, equal prices merged), so a round of 50,000 bids holds thousands of floors,
 *   not millions.
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

/**
 * Nodes a contender may take GPUs from together. Each node offers its contestable GPUs, those
 * not held by a kept preemptible lease at its price and those at its price plus the penalty;
 * with `exact`, the given GPUs of each node at its price (a displaced lease's own).
 */
export interface NodeGroup {
  readonly nodes: readonly number[];
  readonly exact?: readonly number[];
}

export interface ContenderClass {
  readonly kind: 'bid' | 'lease';
  readonly gpus: number;
  /** The class's best value and its holder (smallest id among equals): what prices must deter. */
  readonly best: { readonly id: string; readonly value: number };
  /** Every losing bid of the class, for the list of paradoxical rejections. */
  readonly bids: readonly { readonly id: string; readonly value: number; readonly gpuModel: string }[];
  /**
   * The groups of round-files.md's coherence rule: contestable GPUs only (not held by a fixed
   * lease), with enough of them for the gang. A loser that could buy below its limit in one is a
   * paradoxical rejection. (The candidates' own group objects, shared, not copied.)
   */
  readonly contested: readonly NodeGroup[];
}

/**
 * `contested`: demand for GPUs a loser could take this round (round-files.md's coherence rule;
 * unmet, it is a paradoxical rejection). `scarcity`: demand that only GPUs held by fixed leases
 * could meet: a fixed lease cannot be displaced this round, but the GPUs it holds are as scarce
 * as their neighbours. Without it a node full of non-preemptible work would price at its
 * reserve while the demand it turns away waits, and pinning capacity would pay less than giving
 * the market the freedom to preempt; it prices those GPUs as far as their holders can pay.
 */
export type DemandKind = 'contested' | 'scarcity';

/** One floor under a node's price: the best bid asking it, and the GPUs of all bids that do. */
export interface Floor {
  /** The lowest price of the node, in micro-units per GPU-hour, that keeps those bids out. */
  readonly micros: number;
  /** GPUs of the bids whose floor this is: envy is weighed per GPU. */
  weight: number;
  /** The best of those bids (highest value, then smallest id), for the marginal bid. */
  id: string;
  value: number;
}

export interface NodeFloors {
  /** Highest first, at most FLOORS_PER_NODE, equal prices merged. */
  readonly contested: Floor[];
  readonly scarcity: Floor[];
}

/** A class's demand over a group of several nodes: its `gpus` cheapest must cost at least value x gpus. */
export interface GroupDemand extends NodeGroup {
  readonly kind: DemandKind;
  readonly contender: number;
}

export interface PricingDemand {
  readonly nodes: readonly NodeSupply[];
  readonly penalty: number;
  readonly payers: readonly Payer[];
  readonly classes: readonly ContenderClass[];
  /** Per node, indexed like the round's nodes; null where no class asks anything of it. */
  readonly floors: readonly (NodeFloors | null)[];
  readonly groups: readonly GroupDemand[];
}

/** Bids of a class that set floors of their own (the best first): how many a lower price would let in. */
const FLOORS_PER_CLASS = 2;
/** Floors kept per node and kind: the LP starts with three and rarely goes below the eighth. */
export const FLOORS_PER_NODE = 8;

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
    payers.push({
      id: b.bid.id,
      kind: 'placement',
      value: toMicros(b.bid.offers[b.options[a.option].offerIndex].maxPrice),
      gpus: b.bid.gpus,
      shares,
    });
  }
  const displaced = new Set(allocation.preempted);
  const flexible = new Map(problem.flexibleLeases.map((l) => [l.lease.id, l]));
  for (const lease of problem.snapshot.leases) {
    const f = flexible.get(lease.id);
    if (f && displaced.has(f.index)) continue;
    const shares = lease.placement
      .map((s) => ({ node: problem.nodeIndex.get(s.node)!, gpus: s.gpus }))
      .sort((x, y) => x.node - y.node);
    payers.push({
      id: lease.id,
      kind: 'lease',
      value: toMicros(lease.value),
      gpus: shares.reduce((t, s) => t + s.gpus, 0),
      shares,
    });
  }
  return payers;
}

/** What one node offers a group: free GPUs at its price, leased ones at price plus penalty. */
export function offered(group: NodeGroup, k: number, nodes: readonly NodeSupply[]): { free: number; leased: number } {
  if (group.exact) return { free: group.exact[k], leased: 0 };
  const s = nodes[group.nodes[k]];
  return { free: s.contestable - s.leased, leased: s.leased };
}

/**
 * The lowest price of one node that keeps a gang out of it: taking `gpus` there costs gpus x
 * price, plus the penalty for every GPU beyond its `free` ones.
 */
export function nodeBound(gpus: number, value: number, free: number, penalty: number): number {
  return ceilDiv(value * gpus - penalty * Math.max(0, gpus - free), gpus);
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

interface Draft {
  readonly gpus: number;
  best: { id: string; value: number };
  readonly bids: ContenderClass['bids'][number][];
  readonly contested: readonly NodeGroup[];
  /** Nodes of one-node groups that could hold the gang if their fixed leases' GPUs were free. */
  readonly scarce: readonly number[];
}

function classesOf(
  problem: RoundProblem,
  allocation: Allocation,
  nodes: readonly NodeSupply[],
): { classes: ContenderClass[]; scarce: (readonly number[])[] } {
  const alone = aloneIn(problem);
  const placed = new Set(allocation.assignments.map((a) => a.bid));
  const byShape = new Map<string, Draft>();
  for (const b of problem.bids) {
    if (placed.has(b.index)) continue;
    const offers = [
      ...b.options.map((o) => ({ ...o, contested: o.groups as readonly NodeGroup[] })),
      ...b.blocked.map((o) => ({ ...o, contested: [] })),
    ];
    for (const offer of offers) {
      const value = toMicros(b.bid.offers[offer.offerIndex].maxPrice);
      const shape = `${offer.eligibilityKey}|${b.bid.contiguity}|${b.bid.gpus}`;
      let c = byShape.get(shape);
      if (!c) {
        const { contiguity, gpus } = b.bid;
        const single = (n: number) =>
          contiguity === 'node' || (contiguity === 'none' ? offer.eligible.length === 1 : alone[contiguity][n] === 1);
        const scarce = offer.eligible.filter(
          (n) => nodes[n].usable >= gpus && nodes[n].usable > nodes[n].contestable && single(n),
        );
        byShape.set(shape, (c = { gpus, best: { id: b.bid.id, value }, bids: [], contested: offer.contested, scarce }));
      } else if (value > c.best.value || (value === c.best.value && b.bid.id < c.best.id))
        c.best = { id: b.bid.id, value };
      c.bids.push({ id: b.bid.id, value, gpuModel: b.bid.offers[offer.offerIndex].gpuModel });
    }
  }
  const drafts = [...byShape.values()];
  const classes: ContenderClass[] = drafts.map((c) => ({
    kind: 'bid',
    gpus: c.gpus,
    best: c.best,
    bids: c.bids,
    contested: c.contested,
  }));
  const scarce = drafts.map((c) => c.scarce);
  // A displaced lease could only have kept its own GPUs, which are free to take now (no penalty).
  for (const l of allocation.preempted) {
    const lease = problem.flexibleLeases[l];
    const own = { nodes: lease.shares.map((s) => s.node), exact: lease.shares.map((s) => s.gpus) };
    classes.push({
      kind: 'lease',
      gpus: lease.gpus,
      best: { id: lease.lease.bidId, value: toMicros(lease.lease.value) },
      bids: [],
      contested: [own],
    });
  }
  return { classes, scarce };
}

/** Adds a floor to a node's list: highest first, equal prices merged, at most FLOORS_PER_NODE. */
function addFloor(list: Floor[], micros: number, weight: number, id: string, value: number): void {
  let k = 0;
  while (k < list.length && list[k].micros > micros) k++;
  if (k < list.length && list[k].micros === micros) {
    const f = list[k];
    f.weight += weight;
    if (value > f.value || (value === f.value && id < f.id)) [f.id, f.value] = [id, value];
    return;
  }
  if (k >= FLOORS_PER_NODE) return;
  list.splice(k, 0, { micros, weight, id, value });
  if (list.length > FLOORS_PER_NODE) list.pop();
}

export function buildPricingDemand(problem: RoundProblem, allocation: Allocation): PricingDemand {
  const nodes = supplyOf(problem, allocation);
  const penalty = toMicros(problem.snapshot.params.preemptionPenalty);
  const { classes, scarce } = classesOf(problem, allocation, nodes);
  const floors: (NodeFloors | null)[] = nodes.map(() => null);
  const groups: GroupDemand[] = [];
  const floor = (
    kind: DemandKind,
    node: number,
    gpus: number,
    free: number,
    bids: readonly { id: string; value: number }[],
  ) => {
    // A node with an idle GPU has rent 0 whatever the demand: a floor there can only be unmet
    // (the paradoxical check reads the classes, not the floors).
    if (nodes[node].idle) return;
    for (const bid of bids) {
      const price = nodeBound(gpus, bid.value, free, penalty);
      if (price <= nodes[node].reserve) continue;
      const at = (floors[node] ??= { contested: [], scarcity: [] });
      addFloor(at[kind], price, gpus, bid.id, bid.value);
    }
  };
  classes.forEach((c, index) => {
    const top =
      c.bids.length > 0
        ? [...c.bids].sort((a, b) => b.value - a.value || (a.id < b.id ? -1 : 1)).slice(0, FLOORS_PER_CLASS)
        : [c.best];
    for (const group of c.contested) {
      if (group.nodes.length > 1)
        groups.push({ kind: 'contested', contender: index, nodes: group.nodes, exact: group.exact });
      else floor('contested', group.nodes[0], c.gpus, offered(group, 0, nodes).free, top);
    }
    // Scarcity only from one-node groups: demand for several nodes at once adds little here and would double the LP.
    for (const n of scarce[index] ?? []) floor('scarcity', n, c.gpus, nodes[n].usable - nodes[n].leased, [c.best]);
  });
  return { nodes, penalty, payers: payersOf(problem, allocation), classes, floors, groups };
}
