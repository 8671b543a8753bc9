import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { RoundSnapshot } from '../../src/core/market/types.js';

/**
 * Writes a generated round snapshot into a migrated database as the service would hold it:
 * providers and their nodes, one tenant, open bids with their offers, and running leases (each
 * with the bid it won). Bulk inserts, so loading 10,000 bids takes a second, not a minute.
 */
export async function loadMarket(client: pg.Client, snapshot: RoundSnapshot): Promise<void> {
  await client.query(`INSERT INTO gpu_models (name, memory_gb, bf16_tflops, memory_bandwidth_tbs) VALUES
    ('A100-PCIE-40GB', 40, 312, 1.555) ON CONFLICT DO NOTHING`);
  const providers = new Map<string, string>();
  for (const node of snapshot.nodes) if (!providers.has(node.provider)) providers.set(node.provider, randomUUID());
  await client.query(
    `INSERT INTO providers (id, name, adapter) SELECT id, name, 'simulated' FROM unnest($1::uuid[], $2::text[]) AS v(id, name)`,
    [[...providers.values()], [...providers.keys()]],
  );
  const nodeIds = new Map(snapshot.nodes.map((n) => [n.id, randomUUID()]));
  await client.query(
    `INSERT INTO nodes (id, provider_id, external_id, gpu_model, gpus, region, block, nvlink_domain, compliance, reserve_price)
     SELECT v.id, v.provider, v.external, v.model, v.gpus, v.region, v.block, v.nvlink, string_to_array(v.compliance, ','), v.reserve
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::numeric[])
         AS v(id, provider, external, model, gpus, region, block, nvlink, compliance, reserve)`,
    [
      snapshot.nodes.map((n) => nodeIds.get(n.id)),
      snapshot.nodes.map((n) => providers.get(n.provider)),
      snapshot.nodes.map((n) => n.id),
      snapshot.nodes.map((n) => n.gpuModel),
      snapshot.nodes.map((n) => n.gpus),
      snapshot.nodes.map((n) => n.region),
      snapshot.nodes.map((n) => n.block),
      snapshot.nodes.map((n) => nodeIds.get(n.nvlinkDomain) ?? n.nvlinkDomain),
      snapshot.nodes.map((n) => n.compliance.join(',')),
      snapshot.nodes.map((n) => n.reservePrice.toFixed()),
    ],
  );
  const tenant = randomUUID();
  await client.query(`INSERT INTO tenants (id, name) VALUES ($1, 'bench')`, [tenant]);

  const bids = [
    ...snapshot.bids.map((b) => ({ ...b, status: 'open', gpuTotal: b.gpus })),
    ...snapshot.leases.map((l) => ({
      id: `lease-bid-${l.id}`,
      gpus: l.placement.reduce((s, p) => s + p.gpus, 0),
      gpuTotal: l.placement.reduce((s, p) => s + p.gpus, 0),
      contiguity: 'none' as const,
      preemptible: l.preemptible,
      offers: [{ gpuModel: l.gpuModel, maxPrice: l.value }],
      regions: [],
      compliance: [],
      minGpuMemoryGb: 0,
      status: 'running',
    })),
  ];
  const bidIds = new Map(bids.map((b) => [b.id, randomUUID()]));
  await client.query(
    `INSERT INTO bids (id, tenant_id, status, gpus, contiguity, preemptible, runtime_seconds, remaining_seconds, regions, compliance, min_gpu_memory_gb, workload)
     SELECT v.id, $1, v.status, v.gpus, v.contiguity, v.preemptible, 3600, 3600, string_to_array(v.regions, ','), string_to_array(v.compliance, ','), v.memory, '{}'::jsonb
       FROM unnest($2::uuid[], $3::text[], $4::int[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::int[])
         AS v(id, status, gpus, contiguity, preemptible, regions, compliance, memory)`,
    [
      tenant,
      bids.map((b) => bidIds.get(b.id)),
      bids.map((b) => b.status),
      bids.map((b) => b.gpuTotal),
      bids.map((b) => b.contiguity),
      bids.map((b) => b.preemptible),
      bids.map((b) => b.regions.join(',')),
      bids.map((b) => b.compliance.join(',')),
      bids.map((b) => b.minGpuMemoryGb),
    ],
  );
  const offers = bids.flatMap((b) =>
    b.offers.map((o, rank) => ({ bid: bidIds.get(b.id), rank, model: o.gpuModel, price: o.maxPrice.toFixed() })),
  );
  await client.query(
    `INSERT INTO bid_offers (bid_id, rank, gpu_model, max_price) SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::numeric[])`,
    [offers.map((o) => o.bid), offers.map((o) => o.rank), offers.map((o) => o.model), offers.map((o) => o.price)],
  );

  if (snapshot.leases.length === 0) return;
  const [{ id: roundId }] = (
    await client.query(`INSERT INTO rounds (period_start, state) VALUES ('2000-01-01', 'committed') RETURNING id`)
  ).rows;
  const leaseIds = new Map(snapshot.leases.map((l) => [l.id, randomUUID()]));
  // The snapshot's clock is fixed; the database's is real: keep each protection's distance from now.
  const shift = Date.now() - Date.parse(snapshot.now);
  await client.query(
    `INSERT INTO leases (id, bid_id, tenant_id, round_id, gpu_model, gpus, limit_price, preemptible, state, runtime_seconds,
                         allocated_at, started_at, protected_until, settled_until)
     SELECT v.id, v.bid, $1, $2, v.model, v.gpus, v.value, v.preemptible, 'running', 3600, $3, $3, v.protected, $3
       FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::int[], $8::numeric[], $9::boolean[], $10::timestamptz[])
         AS v(id, bid, model, gpus, value, preemptible, protected)`,
    [
      tenant,
      roundId,
      new Date(Date.now() - 60_000),
      snapshot.leases.map((l) => leaseIds.get(l.id)),
      snapshot.leases.map((l) => bidIds.get(`lease-bid-${l.id}`)),
      snapshot.leases.map((l) => l.gpuModel),
      snapshot.leases.map((l) => l.placement.reduce((s, p) => s + p.gpus, 0)),
      snapshot.leases.map((l) => l.value.toFixed()),
      snapshot.leases.map((l) => l.preemptible),
      snapshot.leases.map((l) => (l.protectedUntil ? new Date(Date.parse(l.protectedUntil) + shift) : null)),
    ],
  );
  const shares = snapshot.leases.flatMap((l) =>
    l.placement.map((p) => ({ lease: leaseIds.get(l.id), node: p.node, gpus: p.gpus, value: l.value.toFixed() })),
  );
  const nodeById = new Map(snapshot.nodes.map((n) => [n.id, n]));
  await client.query(
    `INSERT INTO lease_nodes (lease_id, node_id, provider_id, region, gpus, unit_price)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::numeric[])`,
    [
      shares.map((s) => s.lease),
      shares.map((s) => nodeIds.get(s.node)),
      shares.map((s) => providers.get(nodeById.get(s.node)!.provider)),
      shares.map((s) => nodeById.get(s.node)!.region),
      shares.map((s) => s.gpus),
      shares.map((s) => s.value),
    ],
  );
}
