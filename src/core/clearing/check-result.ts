import { Money, ZERO } from '../money/money.js';
import { contiguityGroupKey, isFixedLease, meetsHardConstraints, usableGpus } from '../market/node-eligibility.js';
import type { MarketNode, OpenBid, Placement, PricedPlacement, RoundResult, RoundSnapshot } from '../market/types.js';
import { checkPrices } from './check-prices.js';

/**
 * Welfare per hour exactly as docs/round-files.md defines it: over placements and kept leases
 * (value - node reserve) x GPUs, minus the preemption penalty x GPUs of every preempted lease.
 * Unknown ids are skipped here; checkResult reports them.
 */
export function recomputeWelfare(
  snapshot: RoundSnapshot,
  result: Pick<CheckedResult, 'placements' | 'kept' | 'preempted'>,
): Money {
  const nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
  const bids = new Map(snapshot.bids.map((b) => [b.id, b]));
  const leases = new Map(snapshot.leases.map((l) => [l.id, l]));
  let welfare: Money = ZERO;
  for (const p of result.placements) {
    const offer = bids.get(p.bidId)?.offers.find((o) => o.gpuModel === p.gpuModel);
    if (!offer) continue;
    for (const s of p.nodes) {
      const node = nodes.get(s.node);
      if (node) welfare = welfare.plus(offer.maxPrice.minus(node.reservePrice).times(s.gpus));
    }
  }
  for (const id of result.kept) {
    const lease = leases.get(id);
    for (const s of lease?.placement ?? []) {
      const node = nodes.get(s.node);
      if (node) welfare = welfare.plus(lease!.value.minus(node.reservePrice).times(s.gpus));
    }
  }
  for (const id of result.preempted) {
    const lease = leases.get(id);
    const gpus = (lease?.placement ?? []).reduce((t, s) => t + s.gpus, 0);
    welfare = welfare.minus(snapshot.params.preemptionPenalty.times(gpus));
  }
  return new Money(welfare);
}

function checkPlacement(p: Placement, bids: Map<string, OpenBid>, nodes: Map<string, MarketNode>, out: string[]): void {
  const bid = bids.get(p.bidId);
  if (!bid) return void out.push(`rule 2: placement for unknown bid ${p.bidId}`);
  const offer = bid.offers.find((o) => o.gpuModel === p.gpuModel);
  if (!offer) return void out.push(`rule 2: bid ${p.bidId} placed on ${p.gpuModel}, which it did not offer for`);
  const total = p.nodes.reduce((t, s) => t + s.gpus, 0);
  if (total !== bid.gpus) out.push(`rule 2: bid ${p.bidId} got ${total} GPUs, asked for ${bid.gpus}`);
  const groups = new Set<string>();
  for (const s of p.nodes) {
    const node = nodes.get(s.node);
    if (!node) {
      out.push(`rule 2: bid ${p.bidId} placed on unknown node ${s.node}`);
      continue;
    }
    if (!Number.isInteger(s.gpus) || s.gpus <= 0)
      out.push(`rule 2: bid ${p.bidId} has a share of ${s.gpus} GPUs on ${s.node}`);
    if (node.gpuModel !== p.gpuModel)
      out.push(`rule 2: bid ${p.bidId} placed on ${s.node}, a ${node.gpuModel}, as ${p.gpuModel}`);
    else if (!meetsHardConstraints(node, bid, offer))
      out.push(`rule 3: node ${s.node} breaks a hard constraint of bid ${p.bidId}`);
    if (node.reservePrice.greaterThan(offer.maxPrice))
      out.push(`rule 6: bid ${p.bidId} placed on ${s.node} whose reserve is above its maxPrice`);
    groups.add(contiguityGroupKey(node, bid.contiguity));
  }
  if (new Set(p.nodes.map((s) => s.node)).size !== p.nodes.length)
    out.push(`rule 2: bid ${p.bidId} names a node twice`);
  if (bid.contiguity !== 'none' && groups.size > 1)
    out.push(`rule 4: bid ${p.bidId} (${bid.contiguity}) spans ${groups.size} groups`);
}

/**
 * The eight validity rules of docs/round-files.md (rule 8, prices, in check-prices.ts), plus the bookkeeping they
 * rest on (every
 * lease in exactly one of kept/preempted). Returns one line per violation; empty means valid.
 * Tests, benchmarks and the simulator all use this one checker.
 */
export interface CheckedResult
  extends
    Pick<RoundResult, 'kept' | 'preempted' | 'welfare'>,
    Partial<Pick<RoundResult, 'prices' | 'nodePrices' | 'keptPrices'>> {
  readonly placements: readonly (Placement & Partial<Pick<PricedPlacement, 'unitPrice' | 'uplift'>>)[];
}

/** `prices: false` checks an allocation alone (rules 1-7), for phases that do not price. */
export function checkResult(
  snapshot: RoundSnapshot,
  result: CheckedResult,
  options: { prices?: boolean } = {},
): string[] {
  const out: string[] = [];
  const nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
  const bids = new Map(snapshot.bids.map((b) => [b.id, b]));
  const used = new Map<string, number>();
  const add = (node: string, gpus: number) => used.set(node, (used.get(node) ?? 0) + gpus);

  const placed = new Set<string>();
  for (const p of result.placements) {
    if (placed.has(p.bidId)) out.push(`rule 2: bid ${p.bidId} placed more than once`);
    placed.add(p.bidId);
    checkPlacement(p, bids, nodes, out);
    for (const s of p.nodes) add(s.node, s.gpus);
  }

  const kept = new Set(result.kept);
  const preempted = new Set(result.preempted);
  for (const lease of snapshot.leases) {
    const inKept = kept.has(lease.id);
    if (inKept === preempted.has(lease.id)) out.push(`lease ${lease.id} must be in exactly one of kept and preempted`);
    if (!inKept && isFixedLease(lease, snapshot.now)) out.push(`rule 5: fixed lease ${lease.id} was not kept`);
    if (inKept) for (const s of lease.placement) add(s.node, s.gpus);
  }
  const leaseIds = new Set(snapshot.leases.map((l) => l.id));
  for (const id of [...kept, ...preempted]) if (!leaseIds.has(id)) out.push(`unknown lease ${id}`);

  for (const [id, gpus] of used) {
    const node = nodes.get(id);
    if (node && gpus > usableGpus(node)) out.push(`rule 1: node ${id} holds ${gpus} GPUs, has ${usableGpus(node)}`);
  }

  const welfare = recomputeWelfare(snapshot, result);
  if (!welfare.equals(result.welfare))
    out.push(`rule 7: welfare is ${result.welfare.toFixed()}, recomputed ${welfare.toFixed()}`);
  if (options.prices === false) return out;
  if (result.prices && result.nodePrices)
    out.push(...checkPrices(snapshot, { ...result, prices: result.prices, nodePrices: result.nodePrices }));
  else out.push('rule 8: the result has no node prices');
  return out;
}
