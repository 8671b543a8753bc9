import type { Money } from '../money/money.js';
import { RATE_DECIMALS, fromMicros, meanHalfEven, toMicros } from '../money/micros.js';
import { isFixedLease, usableGpus } from '../market/node-eligibility.js';
import { poolKey } from '../market/types.js';
import type { Placement, PricedPlacement, RoundResult, RoundSnapshot } from '../market/types.js';

export interface PricedResult extends Pick<RoundResult, 'kept' | 'prices' | 'nodePrices'> {
  readonly placements: readonly (Placement & Partial<Pick<PricedPlacement, 'unitPrice' | 'uplift'>>)[];
  readonly keptPrices?: RoundResult['keptPrices'];
}

/**
 * Rule 8 of docs/round-files.md, as any consumer may check it: every node with a usable GPU has
 * one price, at least its reserve, with at most six decimals; every placement and kept lease
 * pays min(value, the GPU-weighted mean of its nodes' prices rounded half-even to six
 * decimals), with uplift the rest of that mean; every pool index is the lowest price among the
 * pool's nodes with a contestable GPU (not unavailable, not held by a fixed lease), else the
 * lowest of the pool.
 */
export function checkPrices(snapshot: RoundSnapshot, result: PricedResult): string[] {
  const out: string[] = [];
  const nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
  const price = new Map<string, number>();
  for (const np of result.nodePrices ?? []) {
    const node = nodes.get(np.node);
    if (!node) out.push(`rule 8: price for unknown node ${np.node}`);
    else if (price.has(np.node)) out.push(`rule 8: node ${np.node} priced twice`);
    else if (np.price.decimalPlaces() > RATE_DECIMALS)
      out.push(`rule 8: node ${np.node} priced with more than ${RATE_DECIMALS} decimals`);
    else if (np.price.lessThan(node.reservePrice))
      out.push(
        `rule 8: node ${np.node} priced ${np.price.toFixed()}, below its reserve ${node.reservePrice.toFixed()}`,
      );
    else price.set(np.node, toMicros(np.price));
  }
  for (const n of snapshot.nodes)
    if (usableGpus(n) > 0 && !price.has(n.id) && nodes.has(n.id)) out.push(`rule 8: node ${n.id} has no price`);

  const pays = (
    what: string,
    value: Money,
    shares: readonly { node: string; gpus: number }[],
    unit: Money | undefined,
    uplift: Money | undefined,
  ) => {
    if (!unit || !uplift) return void out.push(`rule 8: ${what} has no unitPrice or uplift`);
    if (shares.some((s) => !price.has(s.node))) return;
    const gpus = shares.reduce((t, s) => t + s.gpus, 0);
    const mean = meanHalfEven(
      shares.reduce((t, s) => t + s.gpus * price.get(s.node)!, 0),
      gpus,
    );
    const expected = Math.min(mean, toMicros(value));
    if (!unit.equals(fromMicros(expected)))
      out.push(`rule 8: ${what} pays ${unit.toFixed()}, expected ${fromMicros(expected).toFixed()}`);
    if (!uplift.equals(fromMicros(mean - expected)))
      out.push(`rule 8: ${what} has uplift ${uplift.toFixed()}, expected ${fromMicros(mean - expected).toFixed()}`);
  };
  const bids = new Map(snapshot.bids.map((b) => [b.id, b]));
  for (const p of result.placements) {
    const offer = bids.get(p.bidId)?.offers.find((o) => o.gpuModel === p.gpuModel);
    if (offer) pays(`placement of ${p.bidId}`, offer.maxPrice, p.nodes, p.unitPrice, p.uplift);
  }
  const keptPrices = new Map((result.keptPrices ?? []).map((k) => [k.leaseId, k]));
  const kept = new Set(result.kept);
  for (const lease of snapshot.leases)
    if (kept.has(lease.id))
      pays(
        `kept lease ${lease.id}`,
        lease.value,
        lease.placement,
        keptPrices.get(lease.id)?.unitPrice,
        keptPrices.get(lease.id)?.uplift,
      );
  for (const id of keptPrices.keys()) if (!kept.has(id)) out.push(`rule 8: price for lease ${id}, which is not kept`);

  const fixedHeld = new Map<string, number>();
  for (const l of snapshot.leases)
    if (isFixedLease(l, snapshot.now))
      for (const s of l.placement) fixedHeld.set(s.node, (fixedHeld.get(s.node) ?? 0) + s.gpus);
  const pools = new Map<string, { all: number[]; contestable: number[] }>();
  for (const n of snapshot.nodes) {
    const key = poolKey(n.gpuModel, n.region);
    const pool = pools.get(key) ?? pools.set(key, { all: [], contestable: [] }).get(key)!;
    const p = price.get(n.id);
    if (p === undefined) continue;
    pool.all.push(p);
    if (usableGpus(n) - (fixedHeld.get(n.id) ?? 0) > 0) pool.contestable.push(p);
  }
  const indexOf = new Map(result.prices.map((p) => [poolKey(p.gpuModel, p.region), p.price]));
  for (const [key, pool] of pools) {
    const list = pool.contestable.length > 0 ? pool.contestable : pool.all;
    const [gpuModel, region] = key.split('\u0000');
    const index = indexOf.get(key);
    if (!index) out.push(`rule 8: no index for pool ${gpuModel} ${region}`);
    else if (list.length > 0 && !index.equals(fromMicros(Math.min(...list))))
      out.push(
        `rule 8: index of pool ${gpuModel} ${region} is ${index.toFixed()}, lowest contestable node price ${fromMicros(Math.min(...list)).toFixed()}`,
      );
  }
  return out;
}
