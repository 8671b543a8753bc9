import type { Group, RoundProblem } from '../round-problem.js';
import { AllocationState } from './allocation-state.js';
import type { Allocation } from '../allocation.js';
import type { Clock } from '../clock.js';

/**
 * Local search over a complete allocation (ejection chains). A gang that lost, or a displaced
 * lease, is put in by clearing room for it: what it pushes out is moved elsewhere when it can
 * be, itself pushing out others when the chain may go deeper, and dropped when it cannot. A
 * move is kept only when it raises welfare, so the result is never worse than the start.
 *
 * Why: the LP packing and the greedy decide gang by gang, so a gang that needs a whole NVLink
 * rack can lose to gangs that could have run on another rack, or anywhere. Moving those is
 * exactly a chain: evict, relocate, perhaps evict again.
 *
 * Every try runs on the live state and is rolled back through its journal; the best try is
 * then replayed, which lands in the same state because the search is deterministic.
 */
const GAIN = 1e-7;

export interface LocalSearchOptions {
  /** On `clock`: the search stops at the first check past it. */
  readonly deadline: number;
  readonly clock: Clock;
  /** How many levels of eviction a chain may go: 1 moves evicted gangs only into free GPUs; default 2. */
  readonly depth?: number;
  /** How many losing gangs a deep sweep tries, those with the most welfare at stake first; default 100. */
  readonly deepItems?: number;
}

interface Occupant {
  readonly bid: number; // -1 for a lease
  readonly lease: number;
  readonly rank: number;
}

class Search {
  readonly state: AllocationState;
  /** Nodes a chain is clearing: nothing evicted may move onto them. */
  private readonly locked: Uint16Array;
  private readonly density: Float64Array;
  private readonly isLocked = (n: number) => this.locked[n] > 0;
  /** While a chosen move is replayed the clock must not cut it short, or it would land elsewhere. */
  private replaying = false;
  private stamp = 0;
  private readonly bidStamp: Uint32Array;
  private readonly leaseStamp: Uint32Array;

  constructor(
    readonly problem: RoundProblem,
    start: Allocation,
    private readonly deadline: number,
    private readonly clock: Clock,
  ) {
    this.state = new AllocationState(problem, start);
    this.locked = new Uint16Array(problem.nodes.length);
    this.bidStamp = new Uint32Array(problem.bids.length);
    this.leaseStamp = new Uint32Array(problem.flexibleLeases.length);
    this.density = Float64Array.from(problem.bids, (b) =>
      Math.max(0, ...b.options.map((o) => o.value - problem.nodes[o.eligible[0]].reserve)),
    );
  }

  /** Gangs and kept leases on `nodes`, cheapest surplus per GPU first. */
  private occupants(nodes: readonly number[]): Occupant[] {
    const s = this.state;
    // Stamps instead of sets: this runs for every group a chain tries (20% of a 10,000-bid
    // round's search time with sets and surplus recomputed per gang).
    const stamp = ++this.stamp;
    const out: Occupant[] = [];
    for (const n of nodes) {
      for (const b of s.bidsOn[n])
        if (this.bidStamp[b] !== stamp) {
          this.bidStamp[b] = stamp;
          out.push({ bid: b, lease: -1, rank: s.placedSurplus[b] / this.problem.bids[b].bid.gpus });
        }
      for (const l of s.leasesOn[n])
        if (s.kept[l] && this.leaseStamp[l] !== stamp) {
          this.leaseStamp[l] = stamp;
          const lease = this.problem.flexibleLeases[l];
          out.push({ bid: -1, lease: l, rank: lease.keepGain / lease.gpus });
        }
    }
    return out.sort((x, y) => x.rank - y.rank || x.bid - y.bid || x.lease - y.lease);
  }

  /**
   * Evicts occupants of `nodes` until `enough()` holds, re-placing each evicted gang with
   * chains of `depth - 1`. Leaves its changes applied; false when it gave up (the caller rolls
   * back). `viable()` turns false once the move can no longer beat the best one found.
   */
  private clear(nodes: readonly number[], enough: () => boolean, depth: number, viable: () => boolean): boolean {
    if (enough()) return true;
    for (const n of nodes) this.locked[n]++;
    try {
      for (const occ of this.occupants(nodes)) {
        if (enough()) return true;
        if (!viable() || (!this.replaying && this.clock() > this.deadline)) return false;
        // A deeper chain may already have moved this one (a gang reaching outside `nodes`).
        if (occ.bid >= 0 ? !this.state.placed[occ.bid] : !this.state.kept[occ.lease]) continue;
        if (occ.bid >= 0) {
          this.state.unplace(occ.bid);
          this.relocate(occ.bid, depth - 1);
        } else this.state.dropLease(occ.lease);
      }
      return enough();
    } finally {
      for (const n of nodes) this.locked[n]--;
    }
  }

  /** Places `bid` into one group, clearing room with chains of `depth`; false when it cannot. */
  private putInto(bid: number, option: number, group: Group, depth: number, viable: () => boolean): boolean {
    const s = this.state;
    const gpus = this.problem.bids[bid].bid.gpus;
    const whole = this.problem.bids[bid].bid.contiguity === 'node';
    // Nodes an outer chain is clearing are out of bounds; the rest of the group may still serve.
    const nodes = group.nodes.some(this.isLocked) ? group.nodes.filter((n) => !this.isLocked(n)) : group.nodes;
    if (nodes.length === 0) return false;
    const room = () => {
      let total = 0;
      for (const n of nodes) if (s.free[n] > 0) total += s.free[n];
      return total;
    };
    if (depth === 0 && room() < gpus) return false;
    if (!this.clear(nodes, () => room() >= gpus, depth, viable)) return false;
    const f = s.fill(nodes === group.nodes ? group : { ...group, nodes }, gpus, whole);
    if (!f) return false;
    s.place({ bid, option, shares: f.shares });
    return true;
  }

  /**
   * The best way to place `bid` (unplaced) by a chain of `depth`, applied when it beats
   * `floor` (the gain of leaving things as they are); returns whether it applied one.
   */
  private best(bid: number, depth: number, floor: number): boolean {
    const s = this.state;
    const { bid: b, options } = this.problem.bids[bid];
    const base = s.score;
    let bestGain = floor;
    let bestTry: [number, number] | null = null;
    for (let o = 0; o < options.length; o++) {
      const groups = options[o].groups;
      for (let g = 0; g < groups.length; g++) {
        const ceiling = (options[o].value - this.problem.nodes[groups[g].nodes[0]].reserve) * b.gpus;
        if (ceiling <= bestGain) continue;
        const mark = s.mark();
        if (
          this.putInto(bid, o, groups[g], depth, () => ceiling + (s.score - base) > bestGain) &&
          s.score - base > bestGain
        ) {
          bestGain = s.score - base;
          bestTry = [o, g];
        }
        s.rollback(mark);
      }
    }
    if (!bestTry) return false;
    const [o, g] = bestTry;
    const outer = this.replaying;
    this.replaying = true;
    const replayed = this.putInto(bid, o, options[o].groups[g], depth, () => true);
    this.replaying = outer;
    if (!replayed) throw new Error('local search: a replayed move no longer applies');
    return true;
  }

  /** Re-places an evicted gang outside the locked nodes: into free GPUs, or by a chain of `depth`. */
  private relocate(bid: number, depth: number): void {
    // Free GPUs first: a chain only goes deeper for a gang that has nowhere to go.
    const moved = this.state.bestPlacement(bid, this.isLocked);
    if (moved) this.state.place(moved);
    else if (depth > 0) this.best(bid, depth, 0);
  }

  private insertLease(l: number, depth: number): boolean {
    const s = this.state;
    const lease = this.problem.flexibleLeases[l];
    if (lease.keepGain <= GAIN) return false;
    const base = s.score;
    const mark = s.mark();
    const fits = () => lease.shares.every((sh) => s.free[sh.node] >= sh.gpus);
    const nodes = lease.shares.map((sh) => sh.node);
    if (this.clear(nodes, fits, depth, () => lease.keepGain + (s.score - base) > GAIN)) {
      s.keepLease(l);
      if (s.score - base > GAIN) return true;
    }
    s.rollback(mark);
    return false;
  }

  /** Moves each placed gang to a cheaper spot when one is free. */
  private relocatePass(): boolean {
    const s = this.state;
    let improved = false;
    for (let b = 0; b < s.placed.length && this.clock() < this.deadline; b++) {
      if (!s.placed[b]) continue;
      const base = s.score;
      const mark = s.mark();
      s.unplace(b);
      const moved = s.bestPlacement(b);
      if (moved) s.place(moved);
      if (moved && s.score > base + GAIN) improved = true;
      else s.rollback(mark);
    }
    return improved;
  }

  /** One sweep over the losing gangs and displaced leases, densest first; true when any move was made. */
  private sweep(depth: number, limit: number): boolean {
    const s = this.state;
    let improved = false;
    const items: { bid: number; lease: number; key: number }[] = [];
    // Shallow sweeps go densest first; deep ones spend their effort where the most welfare is at stake.
    const key = (perGpu: number, gpus: number) => (depth > 1 ? perGpu * gpus : perGpu);
    for (const b of this.problem.bids)
      if (b.options.length > 0 && !s.placed[b.index])
        items.push({ bid: b.index, lease: -1, key: key(this.density[b.index], b.bid.gpus) });
    for (const l of this.problem.flexibleLeases)
      if (!s.kept[l.index]) items.push({ bid: -1, lease: l.index, key: key(l.keepGain / l.gpus, l.gpus) });
    items.sort((x, y) => y.key - x.key || x.bid - y.bid || x.lease - y.lease);
    for (const item of items.slice(0, limit)) {
      if (this.clock() >= this.deadline) break;
      if (item.bid >= 0 && !s.placed[item.bid]) improved = this.best(item.bid, depth, GAIN) || improved;
      else if (item.lease >= 0 && !s.kept[item.lease]) improved = this.insertLease(item.lease, depth) || improved;
      s.commit();
    }
    return improved;
  }

  /** Shallow sweeps until none improves, then a deep sweep of the items with most at stake, and again. */
  run(depth: number, deepItems: number): Allocation {
    const shallow = () => {
      while (this.clock() < this.deadline && (this.relocatePass() || this.sweep(1, Infinity)));
      this.state.commit();
    };
    shallow();
    while (depth > 1 && this.clock() < this.deadline && this.sweep(depth, deepItems)) shallow();
    this.state.commit();
    return this.state.toAllocation();
  }
}

/** Improves a complete allocation by ejection chains until the deadline; never worsens it. */
export function improveLocally(problem: RoundProblem, start: Allocation, options: LocalSearchOptions): Allocation {
  return new Search(problem, start, options.deadline, options.clock).run(options.depth ?? 2, options.deepItems ?? 100);
}
