import { contiguityGroupKey } from '../market/node-eligibility.js';
import type { ModelScope } from './allocation-model.js';
import type { RoundProblem } from './round-problem.js';

/**
 * Phase 2 (decompose): bids and leases that can never touch the same node are independent
 * problems, so each constraint-connected component is solved on its own. A component too big
 * for the MIP inside the time budget is split POP-style (Narayanan et al., "Solving Large-Scale
 * Granular Resource Allocation Problems Efficiently with POP"): nodes are dealt into k parts by
 * whole block/NVLink units so every part looks like a small copy of the whole, and each bid goes
 * to the part where its demand is relatively lowest. The final greedy pass repairs the seams.
 */
export interface Part extends ModelScope {
  readonly nodeCount: number;
  /** True when the part is a POP slice of a bigger component, so its optimum is not the round's. */
  readonly split: boolean;
}

export const MAX_PART_BIDS = 300;
export const MAX_PART_NODES = 80;

class UnionFind {
  private readonly parent: Int32Array;
  constructor(size: number) {
    this.parent = Int32Array.from({ length: size }, (_, i) => i);
  }
  find(x: number): number {
    while (this.parent[x] !== x) x = this.parent[x] = this.parent[this.parent[x]];
    return x;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function unionAll(uf: UnionFind, nodes: readonly number[]): void {
  for (let i = 1; i < nodes.length; i++) uf.union(nodes[0], nodes[i]);
}

/** Components of the node graph in which a bid or a lease links every node it could use. */
function components(problem: RoundProblem): number[] {
  const uf = new UnionFind(problem.nodes.length);
  const seen = new Set<string>();
  for (const b of problem.bids) {
    for (const o of b.options) {
      if (seen.has(o.eligibilityKey)) continue;
      seen.add(o.eligibilityKey);
      unionAll(uf, o.eligible);
    }
    // The offers of one bid are exclusive of each other, which ties their pools together.
    unionAll(
      uf,
      b.options.map((o) => o.eligible[0]),
    );
  }
  for (const l of problem.flexibleLeases)
    unionAll(
      uf,
      l.shares.map((s) => s.node),
    );
  return problem.nodes.map((n) => uf.find(n.index));
}

/** Nodes that must stay in one part: one block, one NVLink domain, one lease. */
function units(problem: RoundProblem, nodes: readonly number[]): number[][] {
  const uf = new UnionFind(problem.nodes.length);
  const first = new Map<string, number>();
  for (const n of nodes)
    for (const kind of ['block', 'nvlink'] as const) {
      const key = contiguityGroupKey(problem.nodes[n].node, kind);
      const f = first.get(key);
      if (f === undefined) first.set(key, n);
      else uf.union(f, n);
    }
  for (const l of problem.flexibleLeases)
    unionAll(
      uf,
      l.shares.map((s) => s.node),
    );
  const byRoot = new Map<number, number[]>();
  for (const n of nodes) push(byRoot, uf.find(n), n);
  return [...byRoot.values()];
}

function split(
  problem: RoundProblem,
  nodes: number[],
  bids: number[],
  leases: number[],
  seed: number,
  placedOn: Int32Array,
): Part[] {
  const k = Math.max(Math.ceil(bids.length / MAX_PART_BIDS), Math.ceil(nodes.length / MAX_PART_NODES));
  if (k <= 1) return [makePart(problem, nodes, bids, leases, false)];
  const capacity = (ns: number[]) => ns.reduce((t, n) => t + problem.nodes[n].capacity, 0);
  // Deal units biggest first to the part with the least capacity of the same pool mix.
  const sorted = units(problem, nodes).sort((a, b) => capacity(b) - capacity(a) || a[0] - b[0]);
  const partNodes: number[][] = Array.from({ length: k }, () => []);
  const partCap = new Map<string, number[]>();
  sorted.forEach((unit, i) => {
    const pool = `${problem.nodes[unit[0]].node.gpuModel}|${problem.nodes[unit[0]].node.region}`;
    const caps = partCap.get(pool) ?? new Array<number>(k).fill(0);
    let best = (i + seed) % k;
    for (let p = 0; p < k; p++) if (caps[p] < caps[best]) best = p;
    caps[best] += capacity(unit);
    partCap.set(pool, caps);
    partNodes[best].push(...unit);
  });
  const partOf = new Int32Array(problem.nodes.length).fill(-1);
  partNodes.forEach((ns, p) => ns.forEach((n) => (partOf[n] = p)));
  const supply = partNodes.map(capacity);
  const demand = new Array<number>(k).fill(0);
  const partBids: number[][] = Array.from({ length: k }, () => []);
  const reach = new Map<string, number[]>();
  for (const b of bids) {
    const options = problem.bids[b].options;
    const parts = new Set<number>();
    for (const o of options) {
      let r = reach.get(o.eligibilityKey);
      if (!r) reach.set(o.eligibilityKey, (r = [...new Set(o.eligible.map((n) => partOf[n]).filter((p) => p >= 0))]));
      r.forEach((p) => parts.add(p));
    }
    // A bid the heuristic placed inside one part stays there, so that part's warm start keeps it.
    const home = placedOn[b] >= 0 ? partOf[placedOn[b]] : -1;
    let best = home >= 0 && parts.has(home) ? home : -1;
    if (best < 0) for (const p of parts) if (best < 0 || demand[p] / supply[p] < demand[best] / supply[best]) best = p;
    if (best < 0) continue;
    demand[best] += problem.bids[b].bid.gpus;
    partBids[best].push(b);
  }
  const partLeases = partNodes.map(() => [] as number[]);
  for (const l of leases) partLeases[partOf[problem.flexibleLeases[l].shares[0].node]].push(l);
  return partNodes.map((ns, p) => makePart(problem, ns, partBids[p], partLeases[p], true));
}

function makePart(problem: RoundProblem, nodes: number[], bids: number[], leases: number[], split: boolean): Part {
  const nodeInScope = new Uint8Array(problem.nodes.length);
  for (const n of nodes) nodeInScope[n] = 1;
  return { bids, leases, nodeInScope, nodeCount: nodes.length, split };
}

/** Parts to solve, each a self-contained MIP. `placedOn`: a node of each bid's warm-start placement, or -1. */
export function decompose(
  problem: RoundProblem,
  seed: number,
  placedOn: Int32Array = new Int32Array(problem.bids.length).fill(-1),
): Part[] {
  const root = components(problem);
  const nodes = new Map<number, number[]>();
  for (const n of problem.nodes) push(nodes, root[n.index], n.index);
  const bids = new Map<number, number[]>();
  for (const b of problem.bids)
    if (b.options.length > 0) {
      push(bids, root[b.options[0].eligible[0]], b.index);
    }
  const leases = new Map<number, number[]>();
  for (const l of problem.flexibleLeases) {
    push(leases, root[l.shares[0].node], l.index);
  }
  const parts: Part[] = [];
  for (const [r, ns] of nodes) {
    const bs = bids.get(r) ?? [];
    const ls = leases.get(r) ?? [];
    if (bs.length === 0 && ls.length === 0) continue;
    parts.push(...split(problem, ns, bs, ls, seed, placedOn));
  }
  return parts;
}
