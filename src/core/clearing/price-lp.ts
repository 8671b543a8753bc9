import { MICROS_PER_UNIT } from '../money/micros.js';
import type { LinearModel, SolverBackend } from './solver-port.js';
import type { Clock } from './clock.js';
import { fillLevel, groupCost, raiseTo } from './price-levels.js';
import { offered, type DemandKind, type GroupDemand, type Payer, type PricingDemand } from './price-demand.js';

/**
 * Phase 8c (prices, the LP): the lowest node rents that support the allocation, and where no
 * rents can (indivisible gangs), the ones that cost least to leave unsupported.
 *
 * Variables: a rent per node that may carry one (no idle GPU, contested by some class).
 * - A payer should afford its nodes: sum of its GPUs x (reserve + rent) <= value x GPUs; the
 *   excess is uplift (a slack in $/h).
 * - A class should find no GPUs cheaper than its value. On one node that is a floor under the
 *   node's price (`bounds`; the best BOUND_ROWS_PER_NODE floors of each node to start with,
 *   more as the LP's prices fall below them). Over a group of nodes, its `gpus` cheapest GPUs
 *   must cost value x gpus, written exactly with a level t and a shortfall u_i per price step
 *   of the group: sum of the g cheapest = max over t of g t - sum k_i (t - c_i)+. What stays
 *   uncovered is envy (a slack in $/h).
 * The objective is the total make-whole cost, uplift plus ENVY_WEIGHT x envy (the lost
 * opportunity cost of convex-hull pricing, turned-away demand counted dearer because a
 * paradoxical rejection is the worse failure for a market), then the total rent (per GPU), then
 * the distance from the envy-free levels of price-levels.ts (one common level per group) as the
 * last tie-break, so that among equally low rents the most even ones are chosen. When
 * supporting prices exist the slack is zero and the rents are the lowest.
 *
 * Determinism: columns and rows follow the ids of nodes, classes and payers, never the order
 * of the snapshot, so the same round in any order gives the same LP and the same prices.
 */
export const ENVY_WEIGHT = 3;
/**
 * Per $ of envy of demand that only fixed leases' GPUs could meet: enough to raise a node's
 * price over its rent's cost, far too little to charge its holders above their limits for it.
 */
export const SCARCITY_WEIGHT = 0.02;
/** Per GPU of the node and $ of rent: the tie-break after the make-whole cost. */
const RENT_WEIGHT = 1e-3;
/** Per GPU and $ away from the envy-free levels: the tie-break among equally low rents. */
const LEVEL_WEIGHT = 1e-5;
const BOUND_ROWS_PER_NODE = 3;
const MAX_ROUNDS = 4;

export interface LpPrices {
  /** Node prices in micro-units (before the exact repair of rounding when `solved`). */
  readonly price: Float64Array;
  /**
   * False when no LP was solved in time: `price` is then the LP's anchor, envy-free levels of
   * the contested floors and of the groups they leave out, with scarcity priced only as far as
   * the payers can pay: valid prices, not the lowest, found in a fraction of the full levels' time.
   */
  readonly solved: boolean;
  readonly rounds: number;
  readonly rows: number;
}

const toUnits = (micros: number) => micros / MICROS_PER_UNIT;
/** Floors are kept per node and kind: contested ones at even keys, scarcity ones at odd. */
const floorKey = (node: number, kind: DemandKind) => 2 * node + (kind === 'scarcity' ? 1 : 0);
const byText =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** A sparse LP assembled row by row, handed to the solver port column-wise. */
class SparseLp {
  readonly cost: number[] = [];
  readonly upper: number[] = [];
  readonly rowLower: number[] = [];
  readonly rowUpper: number[] = [];
  private readonly cells: number[][] = [];

  col(cost: number): number {
    this.cost.push(cost);
    this.upper.push(Infinity);
    this.cells.push([]);
    return this.cost.length - 1;
  }

  row(lower: number, upper: number, entries: Iterable<readonly [number, number]>): number {
    const r = this.rowLower.length;
    this.rowLower.push(lower);
    this.rowUpper.push(upper);
    for (const [c, value] of entries) this.cells[c].push(r, value);
    return r;
  }

  build(): LinearModel {
    const starts = [0];
    const indices: number[] = [];
    const values: number[] = [];
    for (const cell of this.cells) {
      const pairs: [number, number][] = [];
      for (let k = 0; k < cell.length; k += 2) pairs.push([cell[k], cell[k + 1]]);
      pairs.sort((a, b) => a[0] - b[0]);
      for (const [r, v] of pairs) {
        indices.push(r);
        values.push(v);
      }
      starts.push(indices.length);
    }
    return {
      numCols: this.cost.length,
      numRows: this.rowLower.length,
      colCost: Float64Array.from(this.cost),
      colLower: new Float64Array(this.cost.length),
      colUpper: Float64Array.from(this.upper),
      integer: new Uint8Array(this.cost.length),
      rowLower: Float64Array.from(this.rowLower),
      rowUpper: Float64Array.from(this.rowUpper),
      starts: Int32Array.from(starts),
      indices: Int32Array.from(indices),
      values: Float64Array.from(values),
    };
  }
}

export async function lowestSupportingPrices(
  demand: PricingDemand,
  nodeIds: readonly string[],
  backend: SolverBackend,
  deadline: number,
  clock: Clock,
  envyWeight = ENVY_WEIGHT,
): Promise<LpPrices> {
  const { nodes, classes, penalty } = demand;
  const rentFree = (n: number) => nodes[n].idle || nodes[n].usable === 0;
  const floors = Float64Array.from(nodes, (n) => n.reserve);
  demand.floors.forEach((f, n) => {
    if (f && f.contested.length > 0 && !rentFree(n) && f.contested[0].micros > floors[n])
      floors[n] = f.contested[0].micros;
  });
  // Groups the contested floors alone keep out need no rows: rents only fall below those where a floor costs envy
  // already.
  const keyOf = new Map<GroupDemand, string>();
  for (const g of demand.groups)
    if (
      groupCost(g, classes[g.contender].gpus, floors, penalty, nodes) <
      classes[g.contender].best.value * classes[g.contender].gpus
    )
      keyOf.set(
        g,
        `${g.kind}|${classes[g.contender].best.id}|${nodeIds[g.nodes.reduce((low, n) => Math.min(low, n), Infinity)]}`,
      );
  const groups = [...keyOf.keys()].sort(byText((g) => keyOf.get(g)!));

  const contested = new Set<number>();
  demand.floors.forEach((f, n) => {
    if (f && !rentFree(n)) contested.add(n);
  });
  for (const g of groups) for (const n of g.nodes) if (!rentFree(n)) contested.add(n);
  const reserves = () => Float64Array.from(nodes, (n) => n.reserve);
  if (contested.size === 0) return { price: reserves(), solved: true, rounds: 0, rows: 0 };
  const columns = [...contested].sort(byText((n) => nodeIds[n]));

  // Floors per node and kind, highest first; the LP starts with the best few of each and gets more when it needs them.
  const floorsOf = new Map<number, [number, number][]>();
  demand.floors.forEach((f, n) => {
    if (!f || rentFree(n)) return;
    for (const kind of ['contested', 'scarcity'] as const)
      if (f[kind].length > 0)
        floorsOf.set(
          floorKey(n, kind),
          f[kind].map((x) => [x.micros, x.weight]),
        );
  });
  const included = new Map([...floorsOf].map(([key, list]) => [key, Math.min(BOUND_ROWS_PER_NODE, list.length)]));
  // Scarcity floors are meant to be undercut where holders cannot pay: only contested ones are added as prices dip
  // below them.
  const expandable = [...floorsOf].filter(([key]) => key % 2 === 0);

  const column = new Set(columns);
  const touching = demand.payers.filter((p) => p.shares.some((s) => column.has(s.node)));
  // Payers that can afford even the highest price the floors and levels ask of their nodes stay
  // out of the LP unless its prices reach them (they are checked after each solve).
  const ceiling = Float64Array.from(nodes, (n) => n.reserve);
  demand.floors.forEach((f, n) => {
    if (f) ceiling[n] = Math.max(ceiling[n], f.contested[0]?.micros ?? 0, f.scarcity[0]?.micros ?? 0);
  });
  const payers = new Set<Payer>();
  const affords = (p: Payer, price: ArrayLike<number>) =>
    p.shares.reduce((t, s) => t + s.gpus * price[s.node], 0) <= p.value * p.gpus;

  let price: Float64Array | null = null;
  let anchor: Float64Array | null = null;
  let rounds = 0;
  let rowCount = 0;
  while (rounds < MAX_ROUNDS && clock() < deadline) {
    rounds++;
    if (!anchor) {
      anchor = anchors(demand, floors, groups, rentFree);
      for (let n = 0; n < nodes.length; n++) ceiling[n] = Math.max(ceiling[n], anchor[n]);
      // Nodes of a group the LP weighs may be priced above every floor (one node carrying a
      // group's rent where another cannot): their payers are in from the start.
      const grouped = new Set<number>();
      for (const g of groups) for (const n of g.nodes) grouped.add(n);
      for (const p of touching) if (!affords(p, ceiling) || p.shares.some((s) => grouped.has(s.node))) payers.add(p);
    }
    const lp = buildModel(demand, anchor, nodeIds, columns, groups, floorsOf, included, [...payers], envyWeight);
    rowCount = lp.rowLower.length;
    const outcome = await backend.solve({ model: lp.build(), relax: true, deadline });
    if (outcome.status !== 'optimal' || !outcome.colValue) break;
    price = reserves();
    columns.forEach(
      (n, k) => (price![n] = nodes[n].reserve + Math.max(0, Math.round(outcome.colValue![k] * MICROS_PER_UNIT))),
    );
    // Floors left out that these prices fall below, and payers they charge above their value:
    // the next LP weighs them too.
    let added = false;
    for (const p of touching)
      if (!payers.has(p) && !affords(p, price)) {
        payers.add(p);
        added = true;
      }
    for (const [key, list] of expandable) {
      const n = key >> 1;
      let count = included.get(key)!;
      while (count < list.length && price[n] < list[count][0]) count++;
      if (count > included.get(key)!) {
        included.set(key, count);
        added = true;
      }
    }
    if (!added) break;
  }
  if (price) return { price, solved: true, rounds, rows: rowCount };
  return { price: anchor ?? anchors(demand, floors, groups, rentFree), solved: false, rounds, rows: rowCount };
}

/**
 * What the last tie-break pulls prices towards: the envy-free levels of price-levels.ts (the
 * contested floors and one common level per group the LP weighs), and on a node that only
 * scarcity demand would raise, that demand's best floor as far as the node's poorest payer can
 * pay, so that a gang holding two such nodes is charged evenly on both.
 */
function anchors(
  demand: PricingDemand,
  floors: Float64Array,
  groups: readonly GroupDemand[],
  rentFree: (n: number) => boolean,
): Float64Array {
  const anchor = Float64Array.from(floors);
  const reserves = Float64Array.from(demand.nodes, (n) => n.reserve);
  for (const g of groups) {
    const c = demand.classes[g.contender];
    const level = fillLevel(reserves, g, c.gpus, c.best.value, demand.penalty, demand.nodes, rentFree);
    if (level) raiseTo(anchor, g, level, rentFree);
  }
  const scarce = new Map<number, number>();
  demand.floors.forEach((f, n) => {
    if (f && f.scarcity.length > 0) scarce.set(n, f.scarcity[0].micros);
  });
  const poorest = new Map<number, number>();
  for (const p of demand.payers)
    for (const s of p.shares) poorest.set(s.node, Math.min(poorest.get(s.node) ?? Infinity, p.value));
  for (const [node, floor] of scarce)
    anchor[node] = Math.max(anchor[node], Math.min(floor, poorest.get(node) ?? floor));
  return anchor;
}

function buildModel(
  demand: PricingDemand,
  levels: Float64Array,
  nodeIds: readonly string[],
  columns: readonly number[],
  groups: readonly GroupDemand[],
  floorsOf: ReadonlyMap<number, [number, number][]>,
  included: ReadonlyMap<number, number>,
  payers: readonly Payer[],
  envyWeight: number,
): SparseLp {
  const { nodes, classes, penalty } = demand;
  const lp = new SparseLp();
  const rent = new Map(columns.map((n) => [n, lp.col(-RENT_WEIGHT * nodes[n].usable)]));
  for (const n of columns) {
    const above = lp.col(-LEVEL_WEIGHT * nodes[n].usable);
    const below = lp.col(-LEVEL_WEIGHT * nodes[n].usable);
    const level = toUnits(levels[n] - nodes[n].reserve);
    lp.row(level, level, [
      [rent.get(n)!, 1],
      [above, -1],
      [below, 1],
    ]);
  }

  const weightOf = (kind: DemandKind) => (kind === 'contested' ? envyWeight : SCARCITY_WEIGHT);
  for (const n of columns)
    for (const kind of ['contested', 'scarcity'] as const)
      for (const [price, weight] of (floorsOf.get(floorKey(n, kind)) ?? []).slice(0, included.get(floorKey(n, kind)))) {
        const envy = lp.col(-weightOf(kind));
        lp.row(weight * toUnits(price - nodes[n].reserve), Infinity, [
          [rent.get(n)!, weight],
          [envy, 1],
        ]);
      }

  // A payer should afford its nodes. Payers on one node with the same value are one row (the
  // same constraint, their GPUs summed), so a node of many small winners costs one row.
  const rows = new Map<string, { entries: Map<number, number>; gpus: number; value: number; fixed: number }>();
  for (const p of payers) {
    const single = p.shares.length === 1;
    const key = single ? `node|${nodeIds[p.shares[0].node]}|${p.value}` : `${p.kind}|${p.id}`;
    const row = rows.get(key) ?? rows.set(key, { entries: new Map(), gpus: 0, value: p.value, fixed: 0 }).get(key)!;
    row.gpus += p.gpus;
    for (const s of p.shares) {
      row.fixed += s.gpus * nodes[s.node].reserve;
      const c = rent.get(s.node);
      if (c !== undefined) row.entries.set(c, (row.entries.get(c) ?? 0) + s.gpus);
    }
  }
  for (const [, row] of [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const uplift = lp.col(-1);
    lp.row(-Infinity, toUnits(row.value * row.gpus - row.fixed), [...row.entries, [uplift, -1]]);
  }

  // Group g: g t - sum k_i u_i + envy >= value x gpus, with u_i >= t - (reserve + rent (+ penalty)).
  for (const g of groups) {
    const c = classes[g.contender];
    const level = lp.col(0);
    const envy = lp.col(-weightOf(g.kind));
    const main: [number, number][] = [
      [level, c.gpus],
      [envy, 1],
    ];
    const order = g.nodes.map((_, k) => k).sort(byText((k) => nodeIds[g.nodes[k]]));
    for (const k of order) {
      const node = g.nodes[k];
      const { free, leased } = offered(g, k, nodes);
      for (const [count, extra] of [
        [free, 0],
        [leased, penalty],
      ] as const) {
        if (count === 0) continue;
        const short = lp.col(0);
        main.push([short, -count]);
        const r = rent.get(node);
        const base = toUnits(nodes[node].reserve + extra);
        if (r === undefined)
          lp.row(-base, Infinity, [
            [short, 1],
            [level, -1],
          ]);
        else
          lp.row(-base, Infinity, [
            [short, 1],
            [level, -1],
            [r, 1],
          ]);
      }
    }
    lp.row(toUnits(c.best.value * c.gpus), Infinity, main);
  }
  return lp;
}
