import { Money, MoneyFormatError, formatPrice, parsePrice } from '../money/money.js';
import { formatRate, toMicros } from '../money/micros.js';
import { usableGpus } from '../market/node-eligibility.js';
import { CONTIGUITIES } from '../market/types.js';
import type {
  Contiguity,
  MarketNode,
  NodeShare,
  Offer,
  OpenBid,
  RoundResult,
  RoundSnapshot,
  RunningLease,
} from '../market/types.js';

/**
 * The round-file contract (docs/round-files.md), version 1. Parsing is strict: an unknown
 * field, a wrong type or a price with too many decimals stops with an error whose message
 * starts with the field's path, so an operator replaying a round knows what to fix.
 */
export class SnapshotFormatError extends Error {
  constructor(
    readonly path: string,
    readonly rule: string,
  ) {
    super(`${path}: ${rule}`);
  }
}

type Json = Record<string, unknown>;

function fail(path: string, rule: string): never {
  throw new SnapshotFormatError(path, rule);
}

function object(value: unknown, path: string, allowed: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'must be an object');
  for (const key of Object.keys(value))
    if (!allowed.includes(key)) fail(`${path}.${key}`.replace(/^\./, ''), 'unknown field');
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'must be an array');
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) fail(path, 'must be a non-empty string');
  return value;
}

function count(value: unknown, path: string, min: number, max = 1_000_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, 'must be an integer');
  if (value < min || value > max) fail(path, `must be within ${min}..${max}`);
  return value;
}

function price(value: unknown, path: string): Money {
  if (typeof value !== 'string' && typeof value !== 'number') fail(path, 'must be a decimal string');
  try {
    return parsePrice(value);
  } catch (error) {
    if (error instanceof MoneyFormatError) fail(path, error.message);
    throw error;
  }
}

function instant(value: unknown, path: string): string {
  const s = text(value, path);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) || Number.isNaN(Date.parse(s)))
    fail(path, 'must be an ISO-8601 timestamp');
  return s;
}

function strings(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  return array(value, path).map((v, i) => text(v, `${path}[${i}]`));
}

function uniqueIds<T extends { id: string }>(items: T[], path: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.id)) fail(`${path}[${i}].id`, `duplicate id "${item.id}"`);
    seen.add(item.id);
  });
}

function parseNode(value: unknown, p: string): MarketNode {
  const o = object(value, p, [
    'id',
    'provider',
    'gpuModel',
    'gpuMemoryGb',
    'gpus',
    'unavailableGpus',
    'region',
    'block',
    'nvlinkDomain',
    'compliance',
    'reservePrice',
  ]);
  const id = text(o.id, `${p}.id`);
  const gpus = count(o.gpus, `${p}.gpus`, 1, 1024);
  return {
    id,
    provider: text(o.provider, `${p}.provider`),
    gpuModel: text(o.gpuModel, `${p}.gpuModel`),
    gpuMemoryGb: count(o.gpuMemoryGb, `${p}.gpuMemoryGb`, 1, 100_000),
    gpus,
    unavailableGpus: o.unavailableGpus === undefined ? 0 : count(o.unavailableGpus, `${p}.unavailableGpus`, 0, gpus),
    region: text(o.region, `${p}.region`),
    block: o.block === undefined ? id : text(o.block, `${p}.block`),
    nvlinkDomain: o.nvlinkDomain === undefined ? id : text(o.nvlinkDomain, `${p}.nvlinkDomain`),
    compliance: strings(o.compliance, `${p}.compliance`),
    reservePrice: price(o.reservePrice, `${p}.reservePrice`),
  };
}

function parseShares(value: unknown, p: string, nodes: Map<string, MarketNode>): NodeShare[] {
  const shares = array(value, p).map((v, i) => {
    const o = object(v, `${p}[${i}]`, ['node', 'gpus']);
    const node = text(o.node, `${p}[${i}].node`);
    if (!nodes.has(node)) fail(`${p}[${i}].node`, `unknown node "${node}"`);
    return { node, gpus: count(o.gpus, `${p}[${i}].gpus`, 1, 1024) };
  });
  if (shares.length === 0) fail(p, 'must not be empty');
  return shares;
}

function parseLease(value: unknown, p: string, nodes: Map<string, MarketNode>): RunningLease {
  const o = object(value, p, ['id', 'bidId', 'gpuModel', 'value', 'preemptible', 'protectedUntil', 'placement']);
  if (typeof o.preemptible !== 'boolean') fail(`${p}.preemptible`, 'must be a boolean');
  const gpuModel = text(o.gpuModel, `${p}.gpuModel`);
  const placement = parseShares(o.placement, `${p}.placement`, nodes);
  placement.forEach((s, i) => {
    if (nodes.get(s.node)!.gpuModel !== gpuModel)
      fail(`${p}.placement[${i}].node`, `node "${s.node}" is not a ${gpuModel}`);
  });
  return {
    id: text(o.id, `${p}.id`),
    bidId: text(o.bidId, `${p}.bidId`),
    gpuModel,
    value: price(o.value, `${p}.value`),
    preemptible: o.preemptible,
    protectedUntil:
      o.protectedUntil === undefined || o.protectedUntil === null
        ? null
        : instant(o.protectedUntil, `${p}.protectedUntil`),
    placement,
  };
}

function parseOffer(value: unknown, p: string): Offer {
  const o = object(value, p, ['gpuModel', 'maxPrice']);
  return { gpuModel: text(o.gpuModel, `${p}.gpuModel`), maxPrice: price(o.maxPrice, `${p}.maxPrice`) };
}

function parseBid(value: unknown, p: string): OpenBid {
  const o = object(value, p, [
    'id',
    'gpus',
    'contiguity',
    'preemptible',
    'offers',
    'regions',
    'compliance',
    'minGpuMemoryGb',
  ]);
  if (!CONTIGUITIES.includes(o.contiguity as Contiguity))
    fail(`${p}.contiguity`, `must be one of ${CONTIGUITIES.join(', ')}`);
  if (o.preemptible !== undefined && typeof o.preemptible !== 'boolean') fail(`${p}.preemptible`, 'must be a boolean');
  const offers = array(o.offers, `${p}.offers`).map((v, i) => parseOffer(v, `${p}.offers[${i}]`));
  if (offers.length === 0) fail(`${p}.offers`, 'must not be empty');
  offers.forEach((offer, i) => {
    if (offers.findIndex((other) => other.gpuModel === offer.gpuModel) !== i)
      fail(`${p}.offers[${i}].gpuModel`, 'duplicate gpuModel');
  });
  return {
    id: text(o.id, `${p}.id`),
    gpus: count(o.gpus, `${p}.gpus`, 1, 100_000),
    contiguity: o.contiguity as Contiguity,
    preemptible: o.preemptible === true,
    offers,
    regions: strings(o.regions, `${p}.regions`),
    compliance: strings(o.compliance, `${p}.compliance`),
    minGpuMemoryGb: o.minGpuMemoryGb === undefined ? 0 : count(o.minGpuMemoryGb, `${p}.minGpuMemoryGb`, 0, 100_000),
  };
}

/**
 * The leases running on a node must fit its usable GPUs: two leases cannot hold one GPU, and a
 * round could not keep both (rule 1 against rule 5 when they are fixed). Such a snapshot is
 * wrong, not the clearing, and the operator replaying it is told which node and leases.
 */
function leasesFit(leases: readonly RunningLease[], nodes: ReadonlyMap<string, MarketNode>): void {
  const held = new Map<string, { gpus: number; leases: string[] }>();
  leases.forEach((lease, i) => {
    lease.placement.forEach((share, k) => {
      const node = nodes.get(share.node)!;
      const h = held.get(share.node) ?? held.set(share.node, { gpus: 0, leases: [] }).get(share.node)!;
      h.gpus += share.gpus;
      h.leases.push(lease.id);
      if (h.gpus > usableGpus(node))
        fail(
          `leases[${i}].placement[${k}].gpus`,
          `leases ${h.leases.join(', ')} hold ${h.gpus} GPUs of node "${node.id}", which has ${usableGpus(node)} usable`,
        );
    });
  });
}

/** Reads a version-1 snapshot; throws SnapshotFormatError naming the first offending field. */
export function parseSnapshot(json: unknown): RoundSnapshot {
  const o = object(json, '', ['version', 'roundId', 'now', 'periodSeconds', 'params', 'nodes', 'leases', 'bids']);
  if (o.version !== 1) fail('version', 'must be 1');
  if (o.params === undefined) fail('params', 'is required');
  if (o.bids === undefined) fail('bids', 'is required (an empty array when no bid is open)');
  const params = object(o.params, 'params', ['preemptionPenalty']);
  const nodes = array(o.nodes, 'nodes').map((v, i) => parseNode(v, `nodes[${i}]`));
  uniqueIds(nodes, 'nodes');
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const leases = array(o.leases ?? [], 'leases').map((v, i) => parseLease(v, `leases[${i}]`, byId));
  uniqueIds(leases, 'leases');
  const now = instant(o.now, 'now');
  leasesFit(leases, byId);
  const bids = array(o.bids, 'bids').map((v, i) => parseBid(v, `bids[${i}]`));
  uniqueIds(bids, 'bids');
  return {
    version: 1,
    roundId: text(o.roundId, 'roundId'),
    now,
    periodSeconds: o.periodSeconds === undefined ? 60 : count(o.periodSeconds, 'periodSeconds', 1, 86_400),
    params: {
      preemptionPenalty:
        params.preemptionPenalty === undefined
          ? parsePrice(0)
          : price(params.preemptionPenalty, 'params.preemptionPenalty'),
    },
    nodes,
    leases,
    bids,
  };
}

/** The snapshot as a round file (the inverse of parseSnapshot), for the simulator and benchmarks. */
export function serializeSnapshot(snapshot: RoundSnapshot): object {
  return {
    ...snapshot,
    params: { preemptionPenalty: formatPrice(snapshot.params.preemptionPenalty) },
    nodes: snapshot.nodes.map((n) => ({ ...n, reservePrice: formatPrice(n.reservePrice) })),
    leases: snapshot.leases.map((l) => ({ ...l, value: formatPrice(l.value) })),
    bids: snapshot.bids.map((b) => ({
      ...b,
      offers: b.offers.map((f) => ({ gpuModel: f.gpuModel, maxPrice: formatPrice(f.maxPrice) })),
    })),
  };
}

/** Welfare and bounds carry four places, exact, so a consumer can recompute them to the cent. */
function amount(value: Money): string {
  return value.toFixed(4);
}

const rate = (value: Money) => formatRate(toMicros(value));

/**
 * The result as a round file: money as decimal strings (rates with six places); `losses` and `stats.phases` are
 * extras.
 */
export function serializeResult(result: RoundResult) {
  return {
    version: 1 as const,
    roundId: result.roundId,
    status: result.status,
    welfare: amount(result.welfare),
    ...(result.upperBound ? { upperBound: amount(result.upperBound) } : {}),
    placements: result.placements.map((p) => ({
      bidId: p.bidId,
      gpuModel: p.gpuModel,
      nodes: p.nodes.map((s) => ({ node: s.node, gpus: s.gpus })),
      unitPrice: rate(p.unitPrice),
      uplift: rate(p.uplift),
    })),
    kept: [...result.kept],
    preempted: [...result.preempted],
    prices: result.prices.map((p) => ({
      gpuModel: p.gpuModel,
      region: p.region,
      price: rate(p.price),
      marginalBidId: p.marginalBidId,
      minNodePrice: rate(p.minNodePrice),
      medianNodePrice: rate(p.medianNodePrice),
      maxNodePrice: rate(p.maxNodePrice),
      vwap: p.vwap === null ? null : rate(p.vwap),
      soldGpus: p.soldGpus,
    })),
    nodePrices: result.nodePrices.map((n) => ({ node: n.node, price: rate(n.price) })),
    keptPrices: result.keptPrices.map((k) => ({
      leaseId: k.leaseId,
      unitPrice: rate(k.unitPrice),
      uplift: rate(k.uplift),
    })),
    paradoxicallyRejected: result.paradoxicallyRejected.map((p) => ({
      bidId: p.bidId,
      gpuModel: p.gpuModel,
      reason: p.reason,
      cheapestPrice: rate(p.cheapestPrice),
    })),
    losses: result.losses.map((l) => ({ bidId: l.bidId, reason: l.reason })),
    stats: result.stats,
  };
}

/**
 * A result written by serializeResult, read back: the service's clearing worker hands its
 * result over this way. Trusted input (written by this code), so it is not validated again.
 */
export function readResult(json: ReturnType<typeof serializeResult>): RoundResult {
  const money = (text: string) => new Money(text);
  return {
    version: 1,
    roundId: json.roundId,
    status: json.status,
    welfare: money(json.welfare),
    upperBound: json.upperBound === undefined ? null : money(json.upperBound),
    placements: json.placements.map((p) => ({ ...p, unitPrice: money(p.unitPrice), uplift: money(p.uplift) })),
    kept: json.kept,
    preempted: json.preempted,
    prices: json.prices.map((p) => ({
      ...p,
      price: money(p.price),
      minNodePrice: money(p.minNodePrice),
      medianNodePrice: money(p.medianNodePrice),
      maxNodePrice: money(p.maxNodePrice),
      vwap: p.vwap === null ? null : money(p.vwap),
    })),
    nodePrices: json.nodePrices.map((n) => ({ node: n.node, price: money(n.price) })),
    keptPrices: json.keptPrices.map((k) => ({
      leaseId: k.leaseId,
      unitPrice: money(k.unitPrice),
      uplift: money(k.uplift),
    })),
    paradoxicallyRejected: json.paradoxicallyRejected.map((p) => ({ ...p, cheapestPrice: money(p.cheapestPrice) })),
    losses: json.losses,
    stats: json.stats,
  };
}
