import type { Money } from '../money/money.js';
import { leaseUnitPrice } from '../settlement/settle-lease.js';
import type { LossReason, MarketNode, RoundResult } from './types.js';

/**
 * Turns a clearing result into the market's decisions for one round: which leases to create
 * and where, which running leases get a preemption notice, which leases in their notice win
 * their place back, and the price every live lease pays per node for the coming period.
 * Pure: the service writes these decisions in the round's transaction; the simulator applies
 * them in memory.
 */

export interface LiveLease {
  readonly id: string;
  readonly state: 'allocated' | 'running' | 'preempting';
  /** Unix seconds when the notice of a `preempting` lease ends: its workload holds the GPUs until then. */
  readonly noticeEndsAt?: number | null;
  readonly limitPrice: Money;
  readonly shares: readonly { readonly nodeId: string; readonly gpus: number }[];
}

export interface BidTerms {
  readonly id: string;
  readonly preemptible: boolean;
  readonly remainingSeconds: number;
  readonly offers: readonly { readonly gpuModel: string; readonly maxPrice: Money }[];
}

export interface RoundOutcomeInput {
  /** Unix seconds of the round. */
  readonly now: number;
  readonly result: RoundResult;
  readonly nodes: readonly MarketNode[];
  readonly leases: readonly LiveLease[];
  readonly bids: ReadonlyMap<string, BidTerms>;
  readonly preemptionNoticeSeconds: number;
  readonly minHoldSeconds: number;
  readonly newId: () => string;
}

export interface PricedShare {
  readonly nodeId: string;
  readonly gpus: number;
  readonly region: string;
  readonly provider: string;
  /** The node's price for the coming period, per GPU-hour: what its provider earns per GPU. */
  readonly nodePrice: Money;
}

/** What a live lease pays per GPU-hour for the coming period, and the uplift when its limit caps it. */
export interface LeasePrice {
  readonly unitPrice: Money;
  readonly uplift: Money;
}

export interface Repricing extends LeasePrice {
  readonly leaseId: string;
  readonly shares: readonly PricedShare[];
}

export interface NewLease {
  readonly id: string;
  readonly bidId: string;
  readonly gpuModel: string;
  readonly gpus: number;
  readonly limitPrice: Money;
  readonly preemptible: boolean;
  readonly runtimeSeconds: number;
  /** Protected from price preemption until it has started and held minHoldSeconds. */
  readonly protectedUntil: number;
  /** When the GPUs are free: after the notice of every lease it displaces on its nodes. */
  readonly startAfter: number;
  readonly shares: readonly PricedShare[];
  readonly price: LeasePrice;
}

export interface RoundOutcome {
  readonly newLeases: readonly NewLease[];
  readonly notices: readonly { readonly leaseId: string; readonly noticeEndsAt: number }[];
  readonly winBacks: readonly string[];
  /** Node prices and the unit price of every lease the round priced (kept and new ones). */
  readonly repricing: readonly Repricing[];
  readonly losses: readonly { readonly bidId: string; readonly reason: LossReason }[];
}

export function planRoundOutcome(input: RoundOutcomeInput): RoundOutcome {
  const nodes = new Map(input.nodes.map((n) => [n.id, n]));
  const nodePrices = new Map(input.result.nodePrices.map((p) => [p.node, p.price]));
  const priceShares = (shares: LiveLease['shares']): PricedShare[] =>
    shares.map((share) => {
      const node = nodes.get(share.nodeId);
      if (!node) throw new Error(`lease share on unknown node ${share.nodeId}`);
      return {
        nodeId: share.nodeId,
        gpus: share.gpus,
        region: node.region,
        provider: node.provider,
        nodePrice: nodePrices.get(share.nodeId) ?? node.reservePrice,
      };
    });
  const keptPrices = new Map(input.result.keptPrices.map((k) => [k.leaseId, k]));

  const leases = new Map(input.leases.map((l) => [l.id, l]));
  const preempted = new Set(input.result.preempted);
  const notices: Array<{ leaseId: string; noticeEndsAt: number }> = [];
  const winBacks: string[] = [];
  // When each node's displaced GPUs come free: the latest notice end among leases leaving it.
  const nodeFreeAt = new Map<string, number>();
  for (const leaseId of preempted) {
    const lease = leases.get(leaseId);
    if (!lease) continue;
    if (lease.state === 'running') notices.push({ leaseId, noticeEndsAt: input.now + input.preemptionNoticeSeconds });
    // A lease already in its notice (offered again and not kept) frees its GPUs when that notice ends.
    const freeAt =
      lease.state === 'running'
        ? input.now + input.preemptionNoticeSeconds
        : lease.state === 'preempting'
          ? Math.max(input.now, lease.noticeEndsAt ?? input.now)
          : input.now;
    for (const share of lease.shares)
      nodeFreeAt.set(share.nodeId, Math.max(nodeFreeAt.get(share.nodeId) ?? input.now, freeAt));
  }
  for (const leaseId of input.result.kept) if (leases.get(leaseId)?.state === 'preempting') winBacks.push(leaseId);

  const repricing: Repricing[] = [];
  for (const leaseId of input.result.kept) {
    const lease = leases.get(leaseId);
    if (!lease) continue;
    const shares = priceShares(lease.shares);
    const priced = keptPrices.get(leaseId) ?? leaseUnitPrice(lease.limitPrice, shares);
    repricing.push({ leaseId, shares, unitPrice: priced.unitPrice, uplift: priced.uplift });
  }

  const newLeases: NewLease[] = input.result.placements.map((placement) => {
    const bid = input.bids.get(placement.bidId);
    if (!bid) throw new Error(`placement for unknown bid ${placement.bidId}`);
    const offer = bid.offers.find((o) => o.gpuModel === placement.gpuModel);
    if (!offer) throw new Error(`bid ${bid.id} has no offer for ${placement.gpuModel}`);
    const shares = priceShares(placement.nodes.map((n) => ({ nodeId: n.node, gpus: n.gpus })));
    const price = { unitPrice: placement.unitPrice, uplift: placement.uplift };
    const startAfter = Math.max(input.now, ...placement.nodes.map((n) => nodeFreeAt.get(n.node) ?? input.now));
    const lease: NewLease = {
      id: input.newId(),
      bidId: bid.id,
      gpuModel: placement.gpuModel,
      gpus: shares.reduce((total, s) => total + s.gpus, 0),
      limitPrice: offer.maxPrice,
      preemptible: bid.preemptible,
      runtimeSeconds: bid.remainingSeconds,
      protectedUntil: startAfter + input.minHoldSeconds,
      startAfter,
      shares,
      price,
    };
    repricing.push({ leaseId: lease.id, shares, ...price });
    return lease;
  });

  return { newLeases, notices, winBacks, repricing, losses: input.result.losses };
}
