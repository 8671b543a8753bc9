import { ModelBuilder } from './solver-port.js';
import type { SolveOutcome, SolverBackend } from './solver-port.js';
import type { Clock } from './clock.js';
import { objectiveOffset } from './round-problem.js';
import type { RoundProblem } from './round-problem.js';
import { contiguityGroupKey } from '../market/node-eligibility.js';
import type { Contiguity } from '../market/types.js';

/**
 * Phase 5 (bound): a proven upper bound on welfare, the LP relaxation of the unpruned problem,
 * solved in a form small enough for 50,000 bids.
 *
 * In the LP relaxation, contiguity only decides which nodes a bid may draw on: a fractional
 * gang spread over several groups is the same as a flow over the union of those groups (split
 * each group's flow in proportion). So each bid-offer becomes one column feeding the flow row of
 * its eligible node set, and nodes that every set treats alike (same reserve, same sets) merge
 * into one "atom" with their capacities summed. The optimum equals the per-bid per-node LP.
 *
 * Most bids of a congested round are far below the price of any GPU they could use (at 10,000
 * bids about 8% carry any LP weight), so the LP is solved by pricing: first over the bids that
 * could fill the round twice over, densest first; then every left-out offer is
 * priced against the duals, and the ones that would pay are added, until none would. The last
 * LP is then optimal for the whole round, so its value is still a proven bound.
 *
 * Anytime: every restricted LP solved to optimality also gives a proven bound on the whole LP,
 * the Lagrangian one of its duals (the GPUs' capacity times their duals, plus for each bid its
 * best offer's gain at the class prices, plus each lease's gain at the GPU duals). When time
 * runs out before pricing converges, the best of those is reported, with the last LP's
 * solution for the packing, instead of nothing.
 */
export interface RelaxedSolution {
  /** Proven upper bound on welfare. */
  readonly bound: number;
  /** False when pricing was cut short: the bound is the Lagrangian one, the solution partial. */
  readonly complete: boolean;
  /** LPs solved: one, plus one per round of offers the duals priced in. */
  readonly iterations: number;
  /** LP value of each bid's options, bid by bid, option by option. */
  readonly bidOptions: readonly Float64Array[];
  /** LP value of keeping each flexible lease. */
  readonly keep: Float64Array;
}

/** How many times the round's GPUs the offers of the first LP ask for. */
const FIRST_COVER = 2;
const PRICE_TOLERANCE = 1e-7;
const MIN_PRICED_IN = 200;
/**
 * Gang size from which whole-gang caps apply (gangCaps). Caps on smaller gangs changed no bound
 * on the benchmark rounds and cost LP time (their classes no longer merge with others); from 32
 * GPUs the bounds are the same as capping every gang (bench/clearing/bound-probe.ts, 7 Dec).
 */
const MIN_CAPPED_GANG = 32;

interface Classes {
  /** Per bid, per option: its class. */
  readonly of: readonly number[][];
  /** Nodes each class may draw on. */
  readonly nodes: (readonly number[])[];
  /** Each class's gang size where it is capped to whole gangs of its groups (gangCaps); 0 elsewhere. */
  readonly gang: number[];
  /** The contiguity of those groups; null where the gang size is 0. */
  readonly grouping: (Contiguity | null)[];
}

/**
 * Classes: bid offers that may draw on the same set of nodes, in the same whole gangs where
 * that caps them, which is all the LP sees of them (a 2-GPU `node` gang and a `none` gang over
 * the same nodes are one class; a 64-GPU `block` gang is a class of its own). Fewer classes
 * mean fewer atoms and flow columns.
 */
function classify(problem: RoundProblem, minCappedGang: number): Classes {
  const byShape = new Map<string, number>();
  const byNodes = new Map<number, number[]>();
  const nodes: (readonly number[])[] = [];
  const gang: number[] = [];
  const grouping: (Contiguity | null)[] = [];
  const classOf = (list: readonly number[], size: number, by: Contiguity | null): number => {
    let hash = (2166136261 ^ size) >>> 0;
    for (const n of list) hash = Math.imul(hash ^ n, 16777619) >>> 0;
    const same = byNodes.get(hash) ?? [];
    for (const c of same)
      if (
        gang[c] === size &&
        grouping[c] === by &&
        nodes[c].length === list.length &&
        nodes[c].every((n, k) => n === list[k])
      )
        return c;
    nodes.push(list);
    gang.push(size);
    grouping.push(by);
    byNodes.set(hash, [...same, nodes.length - 1]);
    return nodes.length - 1;
  };
  const of = problem.bids.map((b) =>
    b.options.map((option) => {
      const { contiguity, gpus } = b.bid;
      // Big gangs bound to one nvlink domain or block use it in whole gangs; see gangCaps.
      const whole = (contiguity === 'nvlink' || contiguity === 'block') && gpus >= minCappedGang;
      const shape = `${option.eligibilityKey}|${contiguity}|${contiguity === 'none' ? 0 : gpus}`;
      let c = byShape.get(shape);
      if (c === undefined) {
        const list = option.groups.flatMap((g) => g.nodes).sort((x, y) => x - y);
        c = classOf(list, whole ? gpus : 0, whole ? contiguity : null);
        byShape.set(shape, c);
      }
      return c;
    }),
  );
  return { of, nodes, gang, grouping };
}

/**
 * The offers of the first LP: the densest (value over the cheapest reserve they could use) until
 * they ask FIRST_COVER times the round's GPUs. A less congested pool whose offers fall below the
 * cut gets them back at the first pricing, as its GPUs then price at their reserve.
 */
function firstOffers(problem: RoundProblem): Uint8Array[] {
  const active = problem.bids.map((b) => new Uint8Array(b.options.length));
  const offers: { bid: number; option: number; density: number }[] = [];
  problem.bids.forEach((b) =>
    b.options.forEach((o, k) =>
      offers.push({ bid: b.index, option: k, density: o.value - problem.nodes[o.eligible[0]].reserve }),
    ),
  );
  offers.sort((x, y) => y.density - x.density || x.bid - y.bid || x.option - y.option);
  const supply = problem.nodes.reduce((t, n) => t + n.capacity, 0);
  let asked = 0;
  for (const o of offers) {
    if (asked >= FIRST_COVER * supply) break;
    active[o.bid][o.option] = 1;
    asked += problem.bids[o.bid].bid.gpus;
  }
  return active;
}

/** A capped class's flow from an atom within one group: at most `upper` GPUs, and within `groupRow`'s cap. */
interface BoundedFlow {
  readonly col: number;
  readonly atom: number;
  readonly cls: number;
  readonly upper: number;
  /** The row capping the class's use of the group; -1 when none. */
  readonly groupRow: number;
}

interface Restricted {
  readonly outcome: SolveOutcome;
  readonly atomOf: Int32Array;
  readonly atomRow: readonly number[];
  readonly atomCapacity: readonly number[];
  readonly atomReserve: readonly number[];
  readonly classRow: Int32Array;
  readonly bidRow: Int32Array;
  readonly bidCols: readonly Int32Array[];
  readonly leaseCols: readonly number[];
  readonly bounded: readonly BoundedFlow[];
  /** Group rows and their caps, for the Lagrangian bound. */
  readonly groupRows: readonly { readonly row: number; readonly cap: number }[];
}

/** Nodes that every used class treats alike (same reserve, same classes) merge into one atom. */
function buildAtoms(problem: RoundProblem, classes: Classes, used: Uint8Array) {
  const membership: number[][] = problem.nodes.map(() => []);
  classes.nodes.forEach((nodes, c) => (used[c] ? nodes.forEach((n) => membership[n].push(c)) : undefined));
  const atomIndex = new Map<string, number>();
  const atomOf = new Int32Array(problem.nodes.length);
  const atoms: Atom[] = [];
  for (const n of problem.nodes) {
    const key = `${n.reserve}|${membership[n.index].join(',')}`;
    let a = atomIndex.get(key);
    if (a === undefined) {
      a = atoms.length;
      atomIndex.set(key, a);
      atoms.push({ reserve: n.reserve, capacity: 0, classes: membership[n.index], nodes: [] });
    }
    atoms[a].capacity += n.capacity;
    atoms[a].nodes.push(n.index);
    atomOf[n.index] = a;
  }
  return { atoms, atomOf };
}

interface Atom {
  readonly reserve: number;
  capacity: number;
  readonly classes: number[];
  readonly nodes: number[];
}

/** One flow column of a capped class: an atom's GPUs inside one of the class's groups. */
interface SubFlow {
  readonly atom: number;
  readonly cls: number;
  readonly upper: number;
  /** Index into the caps' rows; -1 when the group's capacity is already a multiple of k. */
  readonly cap: number;
}

/**
 * Caps from whole gangs, valid for every integer allocation: a class of k-GPU gangs bound to
 * one nvlink domain or block (k >= MIN_CAPPED_GANG) uses each such group in multiples of k, so
 * at most floor(capacity / k) x k of it (a block with 100 free GPUs holds one 64-GPU gang, not
 * 1.56). Such a class draws on an atom through one column per group the atom's nodes fall in
 * (capped at their GPUs), and a row caps its columns in a group; atoms stay whole, so the
 * classes that are not capped see the LP they saw before (splitting atoms by group instead made
 * the LP 2.5-3.4x slower at 50,000 bids, measured).
 *
 * The cap is per group and gang size, over every class of that size: gangs of different
 * classes (other offers, other eligible nodes) fill the same block in whole gangs as well, so
 * capping each class alone let two classes take 1.5 gangs' worth of a block that holds one.
 *
 * Measured (bench/clearing/bound-probe.ts): the LP's fractional bids on the contested rounds are
 * all 64-GPU block gangs; capped class by class the bound fell 0.02-0.07% at 10,000 bids and up
 * to 0.26% at 1,000; shared by gang size a further 0.26-0.53% on the contested 10,000 x 1,000
 * rounds (seed 3: 10048.94 -> 9995.81) and 0.36% on contested 1,000 x 250 seed 1 (2442.38 ->
 * 2433.59, its optimum 2433.43); the 50,000-bid LP took 1.73-1.96 s against 1.63-1.67 s.
 */
function gangCaps(problem: RoundProblem, classes: Classes, atoms: readonly Atom[]) {
  const flows: SubFlow[] = [];
  const rows: { cap: number }[] = [];
  // Keyed by gang size, grouping and group; an atom's GPUs count once per key (see above).
  const byGroup = new Map<string, { k: number; capacity: number; atoms: Set<number>; flows: number[] }>();
  atoms.forEach((atom, a) => {
    for (const c of atom.classes) {
      const by = classes.grouping[c];
      if (by === null) continue;
      const inGroup = new Map<string, number>();
      for (const n of atom.nodes) {
        const g = contiguityGroupKey(problem.nodes[n].node, by);
        inGroup.set(g, (inGroup.get(g) ?? 0) + problem.nodes[n].capacity);
      }
      for (const [g, capacity] of inGroup) {
        const key = `${classes.gang[c]}|${by}|${g}`;
        let group = byGroup.get(key);
        if (!group) byGroup.set(key, (group = { k: classes.gang[c], capacity: 0, atoms: new Set(), flows: [] }));
        if (!group.atoms.has(a)) {
          group.atoms.add(a);
          group.capacity += capacity;
        }
        group.flows.push(flows.length);
        flows.push({ atom: a, cls: c, upper: capacity, cap: -1 });
      }
    }
  });
  for (const group of byGroup.values()) {
    const cap = Math.floor(group.capacity / group.k) * group.k;
    if (cap >= group.capacity) continue;
    if (group.flows.length === 1) {
      const f = flows[group.flows[0]];
      flows[group.flows[0]] = { ...f, upper: Math.min(f.upper, cap) };
      continue;
    }
    for (const i of group.flows) flows[i] = { ...flows[i], cap: rows.length };
    rows.push({ cap });
  }
  return { flows, rows };
}

/** The LP over the active offers (all flexible leases always in). */
async function solveRestricted(
  problem: RoundProblem,
  classes: Classes,
  active: readonly Uint8Array[],
  backend: SolverBackend,
  deadline: number,
): Promise<Restricted> {
  const classCount = classes.nodes.length;
  const used = new Uint8Array(classCount);
  active.forEach((options, b) => options.forEach((on, k) => (on ? (used[classes.of[b][k]] = 1) : undefined)));
  const { atoms, atomOf } = buildAtoms(problem, classes, used);
  const caps = gangCaps(problem, classes, atoms);

  const m = new ModelBuilder();
  const classRow = new Int32Array(classCount).fill(-1);
  used.forEach((u, c) => (u ? (classRow[c] = m.addRow(0, 0)) : undefined));
  const atomRow = atoms.map((a) => m.addRow(-Infinity, a.capacity));
  const groupRows = caps.rows.map((g) => ({ row: m.addRow(-Infinity, g.cap), cap: g.cap }));
  const bidRow = new Int32Array(problem.bids.length).fill(-1);
  const bidCols = problem.bids.map((b, i) => {
    const on = active[i].reduce((t, v) => t + v, 0);
    if (on > 1) bidRow[i] = m.addRow(-Infinity, 1);
    const extra = bidRow[i] >= 0 ? [bidRow[i]] : [];
    return Int32Array.from(b.options, (option, o) =>
      active[i][o]
        ? m.addCol(option.value * b.bid.gpus, 1, false, [classRow[classes.of[i][o]], ...extra], [b.bid.gpus, 1])
        : -1,
    );
  });
  const leaseCols = problem.flexibleLeases.map((lease) => {
    const perAtom = new Map<number, number>();
    for (const s of lease.shares) perAtom.set(atomOf[s.node], (perAtom.get(atomOf[s.node]) ?? 0) + s.gpus);
    return m.addCol(
      lease.keepGain,
      1,
      false,
      [...perAtom.keys()].map((a) => atomRow[a]),
      [...perAtom.values()],
    );
  });
  atoms.forEach((atom, a) => {
    for (const c of atom.classes)
      if (classes.grouping[c] === null) m.addCol(-atom.reserve, Infinity, false, [atomRow[a], classRow[c]], [1, -1]);
  });
  const bounded: BoundedFlow[] = caps.flows.map((f) => {
    const groupRow = f.cap >= 0 ? groupRows[f.cap].row : -1;
    const rows = [atomRow[f.atom], classRow[f.cls], ...(groupRow >= 0 ? [groupRow] : [])];
    const col = m.addCol(-atoms[f.atom].reserve, f.upper, false, rows, groupRow >= 0 ? [1, -1, 1] : [1, -1]);
    return { col, atom: f.atom, cls: f.cls, upper: f.upper, groupRow };
  });
  const outcome = await backend.solve({ model: m.build(), relax: true, deadline });
  return {
    outcome,
    atomOf,
    atomRow,
    atomCapacity: atoms.map((a) => a.capacity),
    atomReserve: atoms.map((a) => a.reserve),
    classRow,
    bidRow,
    bidCols,
    leaseCols,
    bounded,
    groupRows,
  };
}

/**
 * Left-out offers that would raise the LP: reduced cost gpus x (value - class price) - bid dual
 * > 0. A class in the LP has its row's dual as price; a class not in it would get the cheapest
 * reserve plus GPU dual among its nodes, the highest price that keeps its flows dual-feasible.
 */
function pricedIn(
  problem: RoundProblem,
  classes: Classes,
  active: Uint8Array[],
  lp: Restricted,
): { added: number; lagrangianBound: number } {
  const dual = lp.outcome.rowDual!;
  const price = new Float64Array(classes.nodes.length).fill(NaN);
  const classPrice = (c: number) => {
    if (Number.isNaN(price[c])) {
      if (lp.classRow[c] >= 0) price[c] = dual[lp.classRow[c]];
      else {
        let cheapest = Infinity;
        for (const n of classes.nodes[c])
          cheapest = Math.min(cheapest, problem.nodes[n].reserve + dual[lp.atomRow[lp.atomOf[n]]]);
        price[c] = cheapest;
      }
    }
    return price[c];
  };
  const gains: { bid: number; option: number; perGpu: number }[] = [];
  let activeCount = 0;
  // The Lagrangian bound of these duals: GPU capacity at the atoms' duals, each bid's best gain at
  // the class prices (it takes at most one offer, at most once), each lease's at the atoms'.
  let lagrangianBound = 0;
  lp.atomRow.forEach((row, a) => (lagrangianBound += Math.max(0, dual[row]) * lp.atomCapacity[a]));
  problem.bids.forEach((b, i) => {
    const bidDual = lp.bidRow[i] >= 0 ? dual[lp.bidRow[i]] : 0;
    let bestGain = 0;
    b.options.forEach((option, o) => {
      const gain = b.bid.gpus * (option.value - classPrice(classes.of[i][o]));
      if (gain > bestGain) bestGain = gain;
      if (active[i][o]) return void activeCount++;
      const reduced = gain - bidDual;
      if (reduced > PRICE_TOLERANCE * Math.max(1, option.value * b.bid.gpus))
        gains.push({ bid: i, option: o, perGpu: reduced / b.bid.gpus });
    });
    lagrangianBound += bestGain;
  });
  for (const lease of problem.flexibleLeases) {
    let cost = 0;
    for (const s of lease.shares) cost += s.gpus * Math.max(0, dual[lp.atomRow[lp.atomOf[s.node]]]);
    lagrangianBound += Math.max(0, lease.keepGain - cost);
  }
  // Flows capped by whole gangs may earn their class price over their atom's: up to their cap.
  for (const g of lp.groupRows) lagrangianBound += Math.max(0, dual[g.row]) * g.cap;
  for (const f of lp.bounded) {
    const groupDual = f.groupRow >= 0 ? Math.max(0, dual[f.groupRow]) : 0;
    const margin = classPrice(f.cls) - lp.atomReserve[f.atom] - Math.max(0, dual[lp.atomRow[f.atom]]) - groupDual;
    lagrangianBound += Math.max(0, margin) * f.upper;
  }
  // The duals of a small LP undervalue GPUs, so many offers look worth adding; the best ones
  // first, at most doubling the LP, and the next LP's duals judge the rest.
  gains.sort((x, y) => y.perGpu - x.perGpu || x.bid - y.bid || x.option - y.option);
  const taken = gains.slice(0, Math.max(MIN_PRICED_IN, activeCount));
  for (const g of taken) active[g.bid][g.option] = 1;
  return { added: taken.length, lagrangianBound };
}

export async function upperBound(
  problem: RoundProblem,
  backend: SolverBackend,
  deadline: number,
  clock: Clock,
  /** Gang size from which whole-gang caps apply; tests lower it to reach small rounds. */
  minCappedGang = MIN_CAPPED_GANG,
): Promise<RelaxedSolution | null> {
  const classes = classify(problem, minCappedGang);
  const active = firstOffers(problem);
  let complete = active.every((options) => options.every((on) => on === 1));
  let best: RelaxedSolution | null = null;
  const offset = objectiveOffset(problem);
  for (let iterations = 1; ; iterations++) {
    const lp = await solveRestricted(problem, classes, active, backend, deadline);
    const { outcome } = lp;
    if (outcome.status !== 'optimal' || outcome.bound === null || !outcome.colValue) return best;
    if (!complete && !outcome.rowDual) {
      // A backend without duals cannot price: solve the whole LP instead.
      active.forEach((options) => options.fill(1));
      complete = true;
      continue;
    }
    const x = outcome.colValue;
    const solution = (bound: number, done: boolean): RelaxedSolution => ({
      bound: bound + offset,
      complete: done,
      iterations,
      bidOptions: lp.bidCols.map((cols) => Float64Array.from(cols, (c) => (c >= 0 ? x[c] : 0))),
      keep: Float64Array.from(lp.leaseCols, (c) => x[c]),
    });
    if (complete) return solution(outcome.bound, true);
    const priced = pricedIn(problem, classes, active, lp);
    if (priced.added === 0) return solution(outcome.bound, true);
    // Not converged: keep the tightest proven bound so far with this LP's solution, in case time runs out.
    const lagrangian = Math.max(outcome.bound, priced.lagrangianBound);
    best = solution(Math.min(lagrangian, best ? best.bound - offset : Infinity), false);
    if (clock() >= deadline) return best;
  }
}
