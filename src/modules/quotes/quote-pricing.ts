import { contiguityGroupKey, meetsHardConstraints, usableGpus } from '../../core/market/node-eligibility.js';
import type { Contiguity, MarketNode, OpenBid } from '../../core/market/types.js';
import { Money } from '../../core/money/money.js';

/**
 * What one option of a bid (a GPU model, a contiguity tier) costs to win at a set of node
 * prices, by the rules the clearing round applies (market.md section 5a): a gang takes `gpus`
 * GPUs of one contiguity group of eligible nodes; a free GPU costs its node's price, a GPU held
 * by a preemptible lease past its protected run costs the node's price plus the preemption
 * penalty, and GPUs held by a lease nobody may displace are not for sale. A bid is kept out of
 * a group only while its limit x gpus is at most what the group's cheapest `gpus` GPUs cost,
 * so that cost per GPU is the price to win.
 *
 * Pure and exact: money comes in and goes out as decimal Money; the search in between works in
 * whole micro-units as BigInt (node prices have six places, reserves, limits and the penalty
 * four), so its sums and comparisons are exact integer arithmetic and a quote over hundreds of
 * nodes and rounds stays fast. The two roundings are stated where they happen.
 */

/** Rates (per GPU-hour) carry the node prices' six places. */
export const RATE_PLACES = 6;

export interface QuoteNode {
  /** The node as the round sees it; `reservePrice` is its reserve now and `unavailableGpus` what no one may use. */
  readonly node: MarketNode;
  /** Its node price: the latest round's, never below its reserve now (a node priced in no round: its reserve). */
  readonly price: Money;
  /** GPUs held by leases nobody may displace: non-preemptible, or inside their protected run. */
  readonly fixedGpus: number;
  /** GPUs held by preemptible leases past their protected run: a gang may take them at price + penalty. */
  readonly leasedGpus: number;
}

export interface TierRequest {
  readonly gpuModel: string;
  readonly gpus: number;
  readonly regions: readonly string[];
  readonly compliance: readonly string[];
  readonly minGpuMemoryGb: number;
  /** The offer's limit per GPU-hour. */
  readonly limit: Money;
}

export interface OptionRequest extends TierRequest {
  readonly contiguity: Contiguity;
}

/** The clearing's loss reasons, as they apply to a quote, plus `above_limit` (the clearing's `outbid`). */
export type OptionReason = 'no_matching_nodes' | 'no_capacity_for_contiguity' | 'below_reserve' | 'above_limit';

export interface Take {
  readonly node: string;
  readonly region: string;
  /** GPUs taken there, free ones first. */
  readonly gpus: number;
  /** Of those, GPUs of a preemptible lease it would displace. */
  readonly displaced: number;
}

export interface PricedOption {
  readonly available: true;
  /**
   * The lowest limit per GPU-hour that wins at these prices: the cost of the cheapest `gpus`
   * GPUs of the cheapest group (penalty included where it displaces a lease) per GPU, rounded up
   * to six places, and never below the reserve of a node it uses (a placement never lands where
   * the provider asks more than the limit).
   */
  readonly priceToWin: Money;
  /**
   * What the gang would pay there per GPU-hour: the GPU-weighted mean of its node prices (the penalty is no charge),
   * half-even to six places.
   */
  readonly unitPrice: Money;
  readonly take: readonly Take[];
  readonly wouldWin: boolean;
  /** Null when it would win; else `below_reserve` (no group fits within the limit's reserves) or `above_limit`. */
  readonly reason: 'below_reserve' | 'above_limit' | null;
}

export interface UnavailableOption {
  readonly available: false;
  readonly reason: 'no_matching_nodes' | 'no_capacity_for_contiguity';
}

export type OptionPrice = PricedOption | UnavailableOption;

// Money values are immutable and shared (a node's reserve, a round's node prices across tiers): convert each once.
const microsOf = new WeakMap<Money, bigint>();

/** A rate in whole micro-units; a seventh decimal is a bug upstream, so it throws rather than rounds. */
function micros(value: Money): bigint {
  let scaled = microsOf.get(value);
  if (scaled === undefined) {
    if (value.decimalPlaces() > RATE_PLACES)
      throw new RangeError(`${value.toFixed()} has more than ${RATE_PLACES} decimals`);
    scaled = BigInt(value.toFixed(RATE_PLACES).replace('.', ''));
    microsOf.set(value, scaled);
  }
  return scaled;
}

function fromMicros(value: bigint): Money {
  return new Money(value.toString()).dividedBy(1_000_000);
}

/** numerator / denominator rounded up, for non-negative integers. */
function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** numerator / denominator rounded half-even, for non-negative integers. */
function halfEvenDiv(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twice = 2n * (numerator - quotient * denominator);
  return twice > denominator || (twice === denominator && quotient % 2n === 1n) ? quotient + 1n : quotient;
}

interface Level {
  /** What one GPU of this level costs to take, in micro-units: the node price, plus the penalty when leased. */
  readonly each: bigint;
  /** The node price, in micro-units: what a GPU of it pays. */
  readonly price: bigint;
  readonly node: QuoteNode;
  readonly count: number;
  readonly leased: boolean;
  /** Index of the node's reserve among the distinct reserves of the matching nodes, ascending. */
  readonly rank: number;
}

/** GPUs a gang may take from a node: free ones at its price, leased ones at its price plus the penalty. */
function levelsOf(n: QuoteNode, penalty: bigint, rank: number): Level[] {
  const leased = Math.max(0, Math.min(n.leasedGpus, usableGpus(n.node) - n.fixedGpus));
  const free = Math.max(0, usableGpus(n.node) - n.fixedGpus - leased);
  const price = micros(n.price);
  const levels: Level[] = [];
  if (free > 0) levels.push({ each: price, price, node: n, count: free, leased: false, rank });
  if (leased > 0) levels.push({ each: price + penalty, price, node: n, count: leased, leased: true, rank });
  return levels;
}

/** Cheapest first; ties by node id, then free before leased: deterministic. */
function byCost(a: Level, b: Level): number {
  if (a.each !== b.each) return a.each < b.each ? -1 : 1;
  return (
    (a.node.node.id < b.node.node.id ? -1 : a.node.node.id > b.node.node.id ? 1 : 0) ||
    Number(a.leased) - Number(b.leased)
  );
}

interface GroupTake {
  readonly key: string;
  /** Micro-units per hour for the whole gang. */
  readonly cost: bigint;
  readonly take: readonly { readonly level: Level; readonly gpus: number }[];
}

/**
 * The contiguity groups of a tier, each with its GPUs cheapest first (the levels come sorted, and
 * splitting them keeps the order): a reserve threshold then only skips the levels above it.
 * Groups that cannot hold the gang whatever the threshold are left out; keys ascending.
 */
function groupsOf(sorted: readonly Level[], gpus: number, contiguity: Contiguity): [string, Level[]][] {
  const groups = new Map<string, Level[]>();
  const size = new Map<string, number>();
  for (const level of sorted) {
    const key = contiguityGroupKey(level.node.node, contiguity);
    const group = groups.get(key);
    if (group) group.push(level);
    else groups.set(key, [level]);
    size.set(key, (size.get(key) ?? 0) + level.count);
  }
  return [...groups].filter(([key]) => size.get(key)! >= gpus).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What a group's cheapest `gpus` GPUs of nodes with reserve rank <= maxRank cost, or null when it has too few. */
function takeFrom(key: string, levels: readonly Level[], gpus: number, maxRank: number): GroupTake | null {
  let need = gpus;
  let cost = 0n;
  const take: { level: Level; gpus: number }[] = [];
  for (const level of levels) {
    if (need === 0) break;
    if (level.rank > maxRank) continue;
    const count = Math.min(need, level.count);
    take.push({ level, gpus: count });
    cost += level.each * BigInt(count);
    need -= count;
  }
  return need > 0 ? null : { key, cost, take };
}

/** Cheaper, or as cheap with the smaller key. */
function beats(a: GroupTake, b: GroupTake | null): boolean {
  return b === null || a.cost < b.cost || (a.cost === b.cost && a.key < b.key);
}

/**
 * The group whose cheapest `gpus` GPUs of nodes with reserve rank <= maxRank cost least (ties: the smaller key), or
 * null.
 */
function cheapestGroup(groups: readonly [string, Level[]][], gpus: number, maxRank: number): GroupTake | null {
  let best: GroupTake | null = null;
  for (const [key, levels] of groups) {
    const take = takeFrom(key, levels, gpus, maxRank);
    if (take && beats(take, best)) best = take;
  }
  return best;
}

/** The gang's request as the hard-constraint check of the round reads it. */
function asBid(request: TierRequest): OpenBid {
  return {
    id: 'quote',
    gpus: request.gpus,
    contiguity: 'none',
    preemptible: false,
    offers: [{ gpuModel: request.gpuModel, maxPrice: request.limit }],
    regions: request.regions,
    compliance: request.compliance,
    minGpuMemoryGb: request.minGpuMemoryGb,
  };
}

/** One option: the price to win in one contiguity tier. See priceTiers. */
export function priceOption(nodes: readonly QuoteNode[], request: OptionRequest, penalty: Money): OptionPrice {
  return priceTiers(nodes, request, penalty)[request.contiguity];
}

/**
 * The price to win every contiguity tier of an offer now, where and what it would pay, whether
 * the limit reaches it, and else why not. The price to win is the lowest limit L at which some
 * group can hold the gang from nodes with reserve <= L and its cheapest GPUs cost at most L
 * each: for each reserve r of the matching nodes (ascending), the cheapest group among nodes
 * with reserve <= r gives max(r, cost / gpus); the least of these is L (a higher r can only
 * help while r is below it).
 */
export function priceTiers(
  nodes: readonly QuoteNode[],
  request: TierRequest,
  penalty: Money,
): Record<Contiguity, OptionPrice> {
  const bid = asBid(request);
  const offer = bid.offers[0];
  const matching = nodes.filter((n) => meetsHardConstraints(n.node, bid, offer));
  if (matching.length === 0) {
    const none: OptionPrice = { available: false, reason: 'no_matching_nodes' };
    return { node: none, nvlink: none, block: none, none };
  }
  const reserves = [...new Set(matching.map((n) => micros(n.node.reservePrice)))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const rank = new Map(reserves.map((r, i) => [r, i]));
  const extra = micros(penalty);
  const levels = matching.flatMap((n) => levelsOf(n, extra, rank.get(micros(n.node.reservePrice))!)).sort(byCost);
  const tier = (contiguity: Contiguity) =>
    priceTier(groupsOf(levels, request.gpus, contiguity), reserves, request.gpus, micros(request.limit));
  return { node: tier('node'), nvlink: tier('nvlink'), block: tier('block'), none: tier('none') };
}

function priceTier(
  groups: readonly [string, Level[]][],
  reserves: readonly bigint[],
  gangSize: number,
  limit: bigint,
): OptionPrice {
  const gpus = BigInt(gangSize);
  // Raising the threshold to reserve i changes only the groups with a node of that reserve, and
  // only makes them cheaper: the cheapest group so far stays a candidate.
  const groupsWithRank = reserves.map(() => [] as number[]);
  groups.forEach(([, levels], g) => {
    for (const r of new Set(levels.map((l) => l.rank))) groupsWithRank[r].push(g);
  });
  let cheapest: GroupTake | null = null;
  let best: { price: bigint; group: GroupTake } | null = null;
  for (const [i, reserve] of reserves.entries()) {
    if (best !== null && reserve >= best.price) break;
    for (const g of groupsWithRank[i]) {
      const take = takeFrom(groups[g][0], groups[g][1], gangSize, i);
      if (take && beats(take, cheapest)) cheapest = take;
    }
    if (cheapest === null) continue;
    // Rounded up: a limit of this many micro-units covers the cost, one less does not.
    const perGpu = ceilDiv(cheapest.cost, gpus);
    const price = perGpu > reserve ? perGpu : reserve;
    if (best === null || price < best.price) best = { price, group: cheapest };
  }
  if (best === null) return { available: false, reason: 'no_capacity_for_contiguity' };

  const merged = new Map<string, Take>();
  let paid = 0n;
  for (const { level, gpus: count } of best.group.take) {
    paid += level.price * BigInt(count);
    const seen = merged.get(level.node.node.id);
    const displaced = level.leased ? count : 0;
    merged.set(
      level.node.node.id,
      seen
        ? { ...seen, gpus: seen.gpus + count, displaced: seen.displaced + displaced }
        : { node: level.node.node.id, region: level.node.node.region, gpus: count, displaced },
    );
  }
  const wouldWin = limit >= best.price;
  let reason: PricedOption['reason'] = null;
  if (!wouldWin) {
    const withinLimit = reserves.filter((r) => r <= limit).length - 1;
    reason = cheapestGroup(groups, gangSize, withinLimit) === null ? 'below_reserve' : 'above_limit';
  }
  return {
    available: true,
    priceToWin: fromMicros(best.price),
    // Half-even, as the round rounds the mean of a placement's node prices.
    unitPrice: fromMicros(halfEvenDiv(paid, gpus)),
    take: [...merged.values()].sort((a, b) => (a.node < b.node ? -1 : 1)),
    wouldWin,
    reason,
  };
}

/** The cost of a whole run: price per GPU-hour x GPUs x hours, exact, then half-even to the ledger's 6 places. */
export function runCost(pricePerGpuHour: Money, gpus: number, runtimeSeconds: number): Money {
  return pricePerGpuHour.times(gpus).times(runtimeSeconds).dividedBy(3600).toDecimalPlaces(6);
}
