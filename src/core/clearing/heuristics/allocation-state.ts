import type { BidOption, Group, RoundProblem } from '../round-problem.js';
import type { Allocation, Assignment, NodeGpus } from '../allocation.js';

/**
 * A mutable allocation with the per-node indexes that local moves need: free GPUs, which gangs
 * and which kept leases sit on each node. Every change goes through a journal so that a move
 * can be tried, measured and rolled back exactly.
 */
type Undo =
  | { kind: 'unplace'; bid: number }
  | { kind: 'place'; assignment: Assignment }
  | { kind: 'keep'; lease: number }
  | { kind: 'drop'; lease: number };

export class AllocationState {
  readonly free: Int32Array;
  readonly placed: (Assignment | null)[];
  /** 1 when the flexible lease is kept. */
  readonly kept: Uint8Array;
  /**
   * Gangs on each node, in the order they were placed: arrays, as a node holds a few and a Set's
   * hashing took 15% of the search's time.
   */
  readonly bidsOn: number[][];
  readonly leasesOn: number[][];
  /** Surplus of each placed bid's assignment (surplus()), kept so moves need not recompute it. */
  readonly placedSurplus: Float64Array;
  /** Solver-side welfare relative to "every flexible lease kept, no bid placed". */
  score = 0;
  private readonly journal: Undo[] = [];
  /** Reused by fill() for a group's open nodes. */
  private readonly scratch: Int32Array;

  constructor(
    readonly problem: RoundProblem,
    allocation: Allocation,
  ) {
    this.free = Int32Array.from(problem.nodes, (n) => n.capacity);
    this.placed = problem.bids.map(() => null);
    this.placedSurplus = new Float64Array(problem.bids.length);
    this.scratch = new Int32Array(problem.nodes.length);
    this.kept = new Uint8Array(problem.flexibleLeases.length).fill(1);
    this.bidsOn = problem.nodes.map(() => []);
    this.leasesOn = problem.nodes.map(() => []);
    for (const l of problem.flexibleLeases) {
      for (const s of l.shares) {
        this.leasesOn[s.node].push(l.index);
        this.free[s.node] -= s.gpus;
      }
    }
    for (const l of allocation.preempted) this.dropLease(l);
    for (const a of allocation.assignments) this.place(a);
    this.journal.length = 0;
  }

  surplus(a: Assignment): number {
    const value = this.problem.bids[a.bid].options[a.option].value;
    let s = 0;
    for (const share of a.shares) s += (value - this.problem.nodes[share.node].reserve) * share.gpus;
    return s;
  }

  place(a: Assignment): void {
    this.placed[a.bid] = a;
    for (const s of a.shares) {
      this.free[s.node] -= s.gpus;
      this.bidsOn[s.node].push(a.bid);
    }
    const surplus = this.surplus(a);
    this.placedSurplus[a.bid] = surplus;
    this.score += surplus;
    this.journal.push({ kind: 'unplace', bid: a.bid });
  }

  unplace(bid: number): Assignment {
    const a = this.placed[bid]!;
    this.placed[bid] = null;
    for (const s of a.shares) {
      this.free[s.node] += s.gpus;
      const on = this.bidsOn[s.node];
      on.splice(on.indexOf(bid), 1);
    }
    this.score -= this.placedSurplus[bid];
    this.journal.push({ kind: 'place', assignment: a });
    return a;
  }

  dropLease(l: number): void {
    this.kept[l] = 0;
    for (const s of this.problem.flexibleLeases[l].shares) this.free[s.node] += s.gpus;
    this.score -= this.problem.flexibleLeases[l].keepGain;
    this.journal.push({ kind: 'keep', lease: l });
  }

  keepLease(l: number): void {
    this.kept[l] = 1;
    for (const s of this.problem.flexibleLeases[l].shares) this.free[s.node] -= s.gpus;
    this.score += this.problem.flexibleLeases[l].keepGain;
    this.journal.push({ kind: 'drop', lease: l });
  }

  /** A point in the journal to roll back to. */
  mark(): number {
    return this.journal.length;
  }

  rollback(mark: number): void {
    while (this.journal.length > mark) {
      const undo = this.journal.pop()!;
      if (undo.kind === 'unplace') this.unplace(undo.bid);
      else if (undo.kind === 'place') this.place(undo.assignment);
      else if (undo.kind === 'keep') this.keepLease(undo.lease);
      else this.dropLease(undo.lease);
      this.journal.pop(); // the inverse just pushed its own entry
    }
  }

  /** Forgets the journal: what is applied stays. */
  commit(): void {
    this.journal.length = 0;
  }

  toAllocation(): Allocation {
    const assignments = this.placed.filter((a): a is Assignment => a !== null);
    const preempted: number[] = [];
    this.kept.forEach((k, l) => (k ? undefined : preempted.push(l)));
    return { assignments, preempted };
  }

  /**
   * Cheapest placement of `gpus` in one group under the current free GPUs, skipping `avoid`
   * nodes: cheapest reserve first, and among equal reserves fragments first (then by index), so
   * whole nodes stay whole for gangs that need them.
   *
   * Group nodes come sorted by reserve then index (round-problem.ts), so only the reserve tiers
   * the gang reaches are ordered by free GPUs; the rest are only counted. This is the search's
   * hottest loop (15% of a 10,000-bid round's search time when it sorted every open node).
   */
  fill(
    group: Group,
    gpus: number,
    whole: boolean,
    avoid?: (node: number) => boolean,
  ): { cost: number; shares: NodeGpus[]; leftover: number } | null {
    const { free } = this;
    const nodes = this.problem.nodes;
    if (whole) {
      const n = group.nodes[0];
      if (free[n] < gpus || avoid?.(n)) return null;
      return { cost: nodes[n].reserve * gpus, shares: [{ node: n, gpus }], leftover: free[n] - gpus };
    }
    const open = this.scratch;
    let count = 0;
    let total = 0;
    let sorted = true;
    let last = -Infinity;
    for (const n of group.nodes)
      if (free[n] > 0 && !avoid?.(n)) {
        open[count++] = n;
        total += free[n];
        if (nodes[n].reserve < last) sorted = false;
        last = nodes[n].reserve;
      }
    if (total < gpus) return null;
    // Rare (groups are built sorted): order by reserve, then index, and go on as below.
    if (!sorted) open.subarray(0, count).sort((x, y) => nodes[x].reserve - nodes[y].reserve || x - y);
    const shares: NodeGpus[] = [];
    let remaining = gpus;
    let sum = 0;
    for (let start = 0; remaining > 0;) {
      // One reserve tier of the open nodes, taken fewest free GPUs first (then by index): each
      // node taken is the least of those left, swapped to the front. A gang takes a node or two
      // of a tier, so this beats sorting the tier (which allocated a copy for every call).
      const reserve = nodes[open[start]].reserve;
      let end = start + 1;
      while (end < count && nodes[open[end]].reserve === reserve) end++;
      for (let next = start; next < end && remaining > 0; next++) {
        let least = next;
        for (let i = next + 1; i < end; i++) {
          const a = open[i];
          const b = open[least];
          if (free[a] < free[b] || (free[a] === free[b] && a < b)) least = i;
        }
        const n = open[least];
        open[least] = open[next];
        open[next] = n;
        const take = Math.min(free[n], remaining);
        shares.push({ node: n, gpus: take });
        sum += reserve * take;
        remaining -= take;
      }
      start = end;
    }
    return { cost: sum, shares, leftover: total - gpus };
  }

  /** Places the bid at bestPlacement's answer; false (and nothing changed) when there is none. */
  placeBest(
    bid: number,
    avoid?: (node: number) => boolean,
    within?: (option: BidOption, group: Group) => boolean,
  ): boolean {
    const a = this.bestPlacement(bid, avoid, within);
    if (a) this.place(a);
    return a !== null;
  }

  /** The most valuable placement of a bid over its options and groups, or null. */
  bestPlacement(
    bid: number,
    avoid?: (node: number) => boolean,
    within?: (option: BidOption, group: Group) => boolean,
  ): Assignment | null {
    const { bid: b, options } = this.problem.bids[bid];
    const whole = b.contiguity === 'node';
    let best: Assignment | null = null;
    let bestSurplus = -Infinity;
    let bestLeftover = Infinity;
    const { free } = this;
    // A loop, not fill(), for one-node gangs: they try every node of their pools one group at a
    // time, and a result object per node tried was a tenth of the search's time.
    for (let o = 0; o < options.length; o++) {
      const option = options[o];
      for (const group of option.groups) {
        if (within && !within(option, group)) continue;
        let cost: number;
        let leftover: number;
        let shares: NodeGpus[] | null = null;
        if (whole) {
          const n = group.nodes[0];
          if (free[n] < b.gpus || avoid?.(n)) continue;
          cost = this.problem.nodes[n].reserve * b.gpus;
          leftover = free[n] - b.gpus;
        } else {
          const f = this.fill(group, b.gpus, false, avoid);
          if (!f) continue;
          ({ cost, leftover, shares } = f);
        }
        const surplus = option.value * b.gpus - cost;
        if (surplus < -1e-9) continue;
        if (surplus > bestSurplus + 1e-9 || (surplus > bestSurplus - 1e-9 && leftover < bestLeftover)) {
          best = { bid, option: o, shares: shares ?? [{ node: group.nodes[0], gpus: b.gpus }] };
          bestSurplus = surplus;
          bestLeftover = leftover;
        }
      }
    }
    return best;
  }
}
