import type { MarketNode, OpenBid, Offer, RunningLease } from './types.js';

/**
 * The hard constraints of a bid on one node, split so that a losing bid can be told which one
 * failed: a node of the wrong kind (`no_matching_nodes`) is a different story for the tenant
 * from a node that fits but asks more than the bid offers (`below_reserve`).
 */
export function meetsHardConstraints(node: MarketNode, bid: OpenBid, offer: Offer): boolean {
  if (node.gpuModel !== offer.gpuModel) return false;
  if (bid.regions.length > 0 && !bid.regions.includes(node.region)) return false;
  if (node.gpuMemoryGb < bid.minGpuMemoryGb) return false;
  for (const tag of bid.compliance) if (!node.compliance.includes(tag)) return false;
  return true;
}

/** Rule 6 of the round files: a placement never lands where the provider asks more than the offer. */
export function withinReserve(node: MarketNode, offer: Offer): boolean {
  return node.reservePrice.lessThanOrEqualTo(offer.maxPrice);
}

export function isEligible(node: MarketNode, bid: OpenBid, offer: Offer): boolean {
  return meetsHardConstraints(node, bid, offer) && withinReserve(node, offer);
}

/** GPUs of the node that the market may hand out this round, before any lease. */
export function usableGpus(node: MarketNode): number {
  return node.gpus - node.unavailableGpus;
}

/** A lease is fixed when it is not preemptible or still inside its protected minimum run. */
export function isFixedLease(lease: RunningLease, now: string): boolean {
  if (!lease.preemptible) return true;
  return lease.protectedUntil !== null && Date.parse(lease.protectedUntil) > Date.parse(now);
}

/** The key by which the group of a contiguity kind is found on a node. */
export function contiguityGroupKey(node: MarketNode, contiguity: OpenBid['contiguity']): string {
  switch (contiguity) {
    case 'node':
      return node.id;
    case 'nvlink':
      return `nvlink:${node.nvlinkDomain}`;
    case 'block':
      return `block:${node.block}`;
    case 'none':
      return '*';
  }
}
