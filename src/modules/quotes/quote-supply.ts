import { leasesSeenByRound } from '../../core/market/round-leases.js';
import type { MarketNode } from '../../core/market/types.js';
import { type Money, maxMoney } from '../../core/money/money.js';
import type { QuoteNode } from './quote-pricing.js';

/**
 * The supply a quote prices: active nodes, their prices and who holds their GPUs, read the way
 * the round's snapshot reads them (market-snapshot.repository.ts), so a quote and the next round
 * agree on which GPUs are for sale. Pure.
 */

export interface SupplyNode {
  /** The node as the round sees it, `unavailableGpus` 0 (filled in here). */
  readonly node: MarketNode;
  readonly active: boolean;
  /** Its price in the latest committed round, or null when that round did not price it. */
  readonly latestPrice: Money | null;
}

export interface SupplyLease {
  readonly state: 'allocated' | 'running' | 'preempting';
  readonly preemptible: boolean;
  /** Epoch milliseconds, or null. */
  readonly protectedUntil: number | null;
  readonly shares: readonly { readonly nodeId: string; readonly gpus: number }[];
}

/**
 * A node's price: the one given (latest round or a past one), never below the reserve it asks now; unpriced, its
 * reserve (an idle node's rent is 0).
 */
export function nodePrice(node: MarketNode, price: Money | null): Money {
  return price === null ? node.reservePrice : maxMoney(price, node.reservePrice);
}

/**
 * Active nodes with their price now and their GPUs split as a round would: leases the round
 * sees (a lease in its notice only where its GPUs were not handed on) are fixed when not
 * preemptible or still protected at `now`, else displaceable (a lease in its notice is
 * displaceable: it is unprotected); GPUs a workload the market failed to stop may hold are
 * unavailable.
 */
export function supplyNow(
  nodes: readonly SupplyNode[],
  leases: readonly SupplyLease[],
  stuck: ReadonlyMap<string, number>,
  now: Date,
): QuoteNode[] {
  const nodeGpus = new Map(nodes.map((n) => [n.node.id, n.node.gpus]));
  const used = new Map<string, number>();
  const fixed = new Map<string, number>();
  const leased = new Map<string, number>();
  const add = (map: Map<string, number>, id: string, gpus: number) => map.set(id, (map.get(id) ?? 0) + gpus);
  for (const { lease } of leasesSeenByRound(leases, nodeGpus, stuck)) {
    const isFixed =
      lease.state !== 'preempting' &&
      (!lease.preemptible || (lease.protectedUntil !== null && lease.protectedUntil > now.getTime()));
    for (const s of lease.shares) {
      add(used, s.nodeId, s.gpus);
      add(isFixed ? fixed : leased, s.nodeId, s.gpus);
    }
  }
  return nodes
    .filter((n) => n.active)
    .map((n) => {
      const unavailableGpus = Math.max(
        0,
        Math.min(stuck.get(n.node.id) ?? 0, n.node.gpus - (used.get(n.node.id) ?? 0)),
      );
      return {
        node: { ...n.node, unavailableGpus },
        price: nodePrice(n.node, n.latestPrice),
        fixedGpus: fixed.get(n.node.id) ?? 0,
        leasedGpus: leased.get(n.node.id) ?? 0,
      };
    });
}

export interface PastNodePrice {
  readonly roundId: string;
  readonly nodeId: string;
  readonly price: Money;
  readonly fixedGpus: number;
  readonly leasedGpus: number;
}

/**
 * The supply of each past round: today's active nodes (only they can serve a window that starts
 * now) at that round's prices (never below today's reserve) and that round's occupancy. A node
 * that round did not price is left out of it. One list per round, in the order given.
 */
export function supplyInRounds(
  nodes: readonly QuoteNode[],
  roundIds: readonly string[],
  past: readonly PastNodePrice[],
): QuoteNode[][] {
  const byId = new Map(nodes.map((n) => [n.node.id, n]));
  const rounds = new Map(roundIds.map((id) => [id, [] as QuoteNode[]]));
  for (const p of past) {
    const now = byId.get(p.nodeId);
    const list = rounds.get(p.roundId);
    if (!now || !list) continue;
    list.push({
      node: { ...now.node, unavailableGpus: 0 },
      price: nodePrice(now.node, p.price),
      fixedGpus: p.fixedGpus,
      leasedGpus: p.leasedGpus,
    });
  }
  return roundIds.map((id) => rounds.get(id)!);
}
