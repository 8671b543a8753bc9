import { fromMicros, meanHalfEven } from '../money/micros.js';
import { poolKey } from '../market/types.js';
import type {
  KeptPrice,
  NodePrice,
  ParadoxicalRejection,
  Placement,
  PoolPrice,
  RoundSnapshot,
} from '../market/types.js';
import type { Money } from '../money/money.js';
import type { Allocation } from './allocation.js';
import type { SolverBackend } from './solver-port.js';
import type { Clock } from './clock.js';
import { buildPricingDemand, type PricingDemand } from './price-demand.js';
import { envyFreePrices, fillLevel, groupCost, raiseTo } from './price-levels.js';
import { lowestSupportingPrices } from './price-lp.js';
import { buildRoundProblem, type RoundProblem } from './round-problem.js';

/**
 * Phase 8 (prices; docs/clearing.md, market.md section 5a): every node's price for the
 * allocation the round chose, what each placement and kept lease pays, the pool indices, and
 * the losing bids that the prices could not keep out.
 */
export interface RoundPrices {
  readonly nodePrices: readonly NodePrice[];
  readonly placementPrices: ReadonlyMap<string, { readonly unitPrice: Money; readonly uplift: Money }>;
  readonly keptPrices: readonly KeptPrice[];
  readonly pools: readonly PoolPrice[];
  readonly paradoxicallyRejected: readonly ParadoxicalRejection[];
  readonly stats: PriceStats;
}

export interface PriceStats {
  /** `lp`: the lowest supporting rents; `levels`: the envy-free levels alone. */
  readonly method: 'lp' | 'levels';
  /** Why the levels stood in for the LP: no solver, the deadline, or the solver's failure. */
  readonly fallback?: string;
  readonly lpRounds?: number;
  readonly lpRows?: number;
}

/**
 * Prices a given allocation of a snapshot (its placements and displaced leases) as clearRound
 * would: for audits of a recorded round and for tests that hold the allocation fixed.
 */
export async function priceDecisions(
  snapshot: RoundSnapshot,
  decisions: { readonly placements: readonly Placement[]; readonly preempted: readonly string[] },
  options: PriceOptions,
): Promise<RoundPrices> {
  const problem = buildRoundProblem(snapshot);
  const bidIndex = new Map(problem.bids.map((b) => [b.bid.id, b]));
  const assignments = decisions.placements.map((p) => {
    const b = bidIndex.get(p.bidId);
    const option = b?.options.findIndex((o) => o.gpuModel === p.gpuModel) ?? -1;
    if (!b || option < 0) throw new RangeError(`placement of ${p.bidId} on ${p.gpuModel} is not one of its candidates`);
    return {
      bid: b.index,
      option,
      shares: p.nodes.map((s) => ({ node: problem.nodeIndex.get(s.node)!, gpus: s.gpus })),
    };
  });
  const displaced = new Set(decisions.preempted);
  const preempted = problem.flexibleLeases.filter((l) => displaced.has(l.lease.id)).map((l) => l.index);
  return priceRound(problem, { assignments, preempted }, options);
}

/**
 * LP rounding leaves prices a micro-unit or two off the rows they meet; closer than this is a rounding, not a choice.
 */
const ROUNDING_MICROS = 2;
/**
 * Time kept after the price LP, as a share of the demand's build time: for describing its prices
 * and for the caller's result, which cannot be cut short. Measured warm (7 Dec 17:00): the two
 * took 0.27-0.78 of the demand's time from 1,000 to 50,000 bids (50,000 x 5,000: demand 615 ms,
 * description 286, result 92); cold (1,000 x 250 in a fresh process) the description alone
 * took a quarter to a half of it.
 */
const AFTER_LP_SHARE = 0.75;
/** The LP's path needs at least this many times the demand's build time (see priceRound). */
const LP_PATH_DEMANDS = 3;

export interface PriceOptions {
  readonly backend: SolverBackend | null;
  /** On `clock`: past it the LP gives way to the envy-free levels. */
  readonly deadline: number;
  readonly clock: Clock;
  /** Weight of a dollar of envy against a dollar of uplift in the LP (price-lp.ts); for measurements. */
  readonly envyWeight?: number;
  /**
   * The process's first round (ClearOptions.cold): its pricing code runs unoptimised, so the LP
   * is tried only with time for it (priceRound).
   */
  readonly cold?: boolean;
}

export async function priceRound(
  problem: RoundProblem,
  allocation: Allocation,
  options: PriceOptions,
): Promise<RoundPrices> {
  const started = options.clock();
  const demand = buildPricingDemand(problem, allocation);
  const demandMs = options.clock() - started;
  // The LP stops early enough for what follows it (AFTER_LP_SHARE), or a round whose LP runs
  // into the deadline ends past it by the description and the result (385 ms at 50,000 bids).
  const lpDeadline = options.deadline - AFTER_LP_SHARE * demandMs;
  // Nothing turned away and nothing displaced: every rent is 0, the lowest there is.
  if (demand.floors.every((f) => f === null) && demand.groups.length === 0)
    return describe(
      problem,
      demand,
      Float64Array.from(demand.nodes, (n) => n.reserve),
      { method: 'lp', lpRounds: 0, lpRows: 0 },
    );
  const levels = () => envyFreePrices(demand);
  if (!options.backend) return describe(problem, demand, levels(), { method: 'levels', fallback: 'no_solver' });
  // Cold, the LP's path (its anchor, the LP, the description) takes 3-5 times the demand's time
  // (1,000 x 250 in a fresh process: demand 50-130 ms, levels 64-124, description 16-29). With
  // less left, the LP would be cut short past the deadline with nothing solved (cold LPs ended
  // 16-98 ms late): the levels alone price the round. Warm rounds always try the LP: at 10,000
  // and 50,000 bids it is cheaper than the levels (1.6 s against 3.1 s at 50,000, measured).
  if (options.cold && lpDeadline - options.clock() < LP_PATH_DEMANDS * demandMs)
    return describe(problem, demand, levels(), { method: 'levels', fallback: 'deadline' });
  const nodeIds = problem.nodes.map((n) => n.node.id);
  try {
    const lp = await lowestSupportingPrices(
      demand,
      nodeIds,
      options.backend,
      lpDeadline,
      options.clock,
      options.envyWeight,
    );
    if (!lp.solved)
      return describe(problem, demand, lp.price, {
        method: 'levels',
        fallback: options.clock() >= lpDeadline ? 'deadline' : 'lp_unsolved',
        lpRounds: lp.rounds,
        lpRows: lp.rows,
      });
    return describe(problem, demand, repairRounding(demand, lp.price), {
      method: 'lp',
      lpRounds: lp.rounds,
      lpRows: lp.rows,
    });
  } catch (error) {
    // The levels are valid prices too: a solver failure costs minimality, never the round.
    return describe(problem, demand, levels(), {
      method: 'levels',
      fallback: `lp_failed: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

/** Raises prices that the LP meant to meet a contender's value and missed by rounding alone. */
function repairRounding(demand: PricingDemand, price: Float64Array): Float64Array {
  const { nodes, classes, penalty } = demand;
  const rentFree = (n: number) => nodes[n].idle || nodes[n].usable === 0;
  demand.floors.forEach((f, n) => {
    if (!f || rentFree(n)) return;
    for (const floor of f.contested)
      if (price[n] < floor.micros && floor.micros - price[n] <= ROUNDING_MICROS) price[n] = floor.micros;
  });
  for (const g of demand.groups) {
    if (g.kind !== 'contested') continue;
    const c = classes[g.contender];
    const shortfall = c.best.value * c.gpus - groupCost(g, c.gpus, price, penalty, nodes);
    if (shortfall <= 0 || shortfall > ROUNDING_MICROS * c.gpus) continue;
    const level = fillLevel(price, g, c.gpus, c.best.value, penalty, nodes, rentFree);
    if (level) raiseTo(price, g, level, rentFree);
  }
  return price;
}

function describe(problem: RoundProblem, demand: PricingDemand, price: Float64Array, stats: PriceStats): RoundPrices {
  const { nodes, payers } = demand;
  const nodePrices: NodePrice[] = [];
  problem.nodes.forEach((n, i) => {
    if (nodes[i].usable > 0) nodePrices.push({ node: n.node.id, price: fromMicros(price[i]) });
  });

  const placementPrices = new Map<string, { unitPrice: Money; uplift: Money }>();
  const keptPrices: KeptPrice[] = [];
  const paidPerShare = new Map<number, { micros: number; gpus: number }>();
  for (const p of payers) {
    const mean = meanHalfEven(
      p.shares.reduce((t, s) => t + s.gpus * price[s.node], 0),
      p.gpus,
    );
    const unit = Math.min(mean, p.value);
    const priced = { unitPrice: fromMicros(unit), uplift: fromMicros(mean - unit) };
    if (p.kind === 'placement') placementPrices.set(p.id, priced);
    else keptPrices.push({ leaseId: p.id, ...priced });
    for (const s of p.shares) {
      const paid = paidPerShare.get(s.node) ?? { micros: 0, gpus: 0 };
      paid.micros += unit * s.gpus;
      paid.gpus += s.gpus;
      paidPerShare.set(s.node, paid);
    }
  }
  return {
    nodePrices,
    placementPrices,
    keptPrices,
    pools: poolIndices(problem, demand, price, paidPerShare),
    paradoxicallyRejected: paradoxical(demand, price),
    stats,
  };
}

/**
 * Per pool: the index (lowest price among nodes with a contestable GPU, else lowest of the
 * pool), the node-price band, the VWAP of what placements and kept leases pay there, and the
 * contender that set the index node's price, when one did.
 */
function poolIndices(
  problem: RoundProblem,
  demand: PricingDemand,
  price: Float64Array,
  paid: ReadonlyMap<number, { micros: number; gpus: number }>,
): PoolPrice[] {
  const pools = new Map<string, { gpuModel: string; region: string; nodes: number[] }>();
  problem.nodes.forEach((n, i) => {
    const key = poolKey(n.node.gpuModel, n.node.region);
    const pool =
      pools.get(key) ?? pools.set(key, { gpuModel: n.node.gpuModel, region: n.node.region, nodes: [] }).get(key)!;
    pool.nodes.push(i);
  });
  const id = (i: number) => problem.nodes[i].node.id;
  const cheapest = (list: number[]) =>
    list.reduce((best, i) => (price[i] < price[best] || (price[i] === price[best] && id(i) < id(best)) ? i : best));
  const indexNodes = new Map(
    [...pools.values()].map((pool) => {
      const priced = pool.nodes.filter((i) => demand.nodes[i].usable > 0);
      const contestable = priced.filter((i) => demand.nodes[i].contestable > 0);
      return [pool, cheapest(contestable.length > 0 ? contestable : priced.length > 0 ? priced : pool.nodes)];
    }),
  );
  const setters = marginalSetters(demand, price, new Set(indexNodes.values()));
  return [...pools.values()]
    .sort((a, b) =>
      a.gpuModel < b.gpuModel
        ? -1
        : a.gpuModel > b.gpuModel
          ? 1
          : a.region < b.region
            ? -1
            : a.region > b.region
              ? 1
              : 0,
    )
    .map((pool) => {
      const priced = pool.nodes.filter((i) => demand.nodes[i].usable > 0);
      const indexNode = indexNodes.get(pool)!;
      const band = (priced.length > 0 ? priced : pool.nodes).map((i) => price[i]).sort((a, b) => a - b);
      let volume = 0;
      let gpus = 0;
      for (const i of pool.nodes) {
        volume += paid.get(i)?.micros ?? 0;
        gpus += paid.get(i)?.gpus ?? 0;
      }
      return {
        gpuModel: pool.gpuModel,
        region: pool.region,
        price: fromMicros(price[indexNode]),
        marginalBidId: setters.get(indexNode) ?? null,
        minNodePrice: fromMicros(band[0]),
        medianNodePrice: fromMicros(band[Math.floor((band.length - 1) / 2)]),
        maxNodePrice: fromMicros(band[band.length - 1]),
        vwap: gpus === 0 ? null : fromMicros(meanHalfEven(volume, gpus)),
        soldGpus: gpus,
      };
    });
}

/**
 * Per index node whose price is above its reserve: the best contender whose demand is met there with no room to
 * spare.
 */
function marginalSetters(
  demand: PricingDemand,
  price: Float64Array,
  indexNodes: ReadonlySet<number>,
): Map<number, string> {
  const { nodes, classes, penalty } = demand;
  const best = new Map<number, { value: number; id: string }>();
  const offer = (node: number, c: { value: number; id: string }) => {
    if (!indexNodes.has(node) || price[node] <= nodes[node].reserve) return;
    const current = best.get(node);
    if (!current || c.value > current.value || (c.value === current.value && c.id < current.id)) best.set(node, c);
  };
  for (const n of indexNodes)
    for (const f of [...(demand.floors[n]?.contested ?? []), ...(demand.floors[n]?.scarcity ?? [])])
      if (f.micros === price[n]) offer(n, f);
  for (const g of demand.groups) {
    if (!g.nodes.some((n) => indexNodes.has(n) && price[n] > nodes[n].reserve)) continue;
    const c = classes[g.contender];
    if (groupCost(g, c.gpus, price, penalty, nodes) - c.best.value * c.gpus < c.gpus)
      for (const n of g.nodes) offer(n, c.best);
  }
  return new Map([...best].map(([node, c]) => [node, c.id]));
}

/**
 * Every losing bid that could take GPUs of a group it is eligible for at less than its value,
 * at these prices (exact: prices and costs are whole micro-units). The reason: `idle_gpus` when
 * no rent up to its value could have kept it out (GPUs left idle price at their reserve),
 * `indivisible` when a rent could have, but would have made a winner pay above its limit.
 */
function paradoxical(demand: PricingDemand, price: Float64Array): ParadoxicalRejection[] {
  const { nodes, classes, penalty } = demand;
  const rentFree = (n: number) => nodes[n].idle || nodes[n].usable === 0;
  const out: ParadoxicalRejection[] = [];
  for (const c of classes) {
    if (c.kind !== 'bid' || c.bids.length === 0) continue;
    let cheapest = Number.POSITIVE_INFINITY;
    let group: (typeof c.contested)[number] | null = null;
    for (const g of c.contested) {
      const cost = groupCost(g, c.gpus, price, penalty, nodes);
      if (cost < cheapest) [cheapest, group] = [cost, g];
    }
    if (!group || c.best.value * c.gpus <= cheapest) continue;
    for (const bid of c.bids) {
      if (bid.value * c.gpus <= cheapest) continue;
      const unstoppable = groupCost(group, c.gpus, price, penalty, nodes, bid.value, rentFree) < bid.value * c.gpus;
      out.push({
        bidId: bid.id,
        gpuModel: bid.gpuModel,
        reason: unstoppable ? 'idle_gpus' : 'indivisible',
        cheapestPrice: fromMicros(Math.floor(cheapest / c.gpus)),
      });
    }
  }
  // A bid with two offers can be paradoxical on both: list it once, under its first.
  out.sort((a, b) =>
    a.bidId < b.bidId ? -1 : a.bidId > b.bidId ? 1 : a.gpuModel < b.gpuModel ? -1 : a.gpuModel > b.gpuModel ? 1 : 0,
  );
  return out.filter((p, i) => i === 0 || out[i - 1].bidId !== p.bidId);
}
