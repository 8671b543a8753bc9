import { parseInstant, parseWholeNumber } from './tenant-args.js';
import { expectPositionals, tenantCommand } from './tenant-command.js';
import { UsageError } from './tenant-errors.js';
import {
  chargesTable,
  type LeaseView,
  leasesTable,
  type LedgerView,
  type PoolView,
  pricesTable,
} from './tenant-tables.js';
import { LEASE_STATES } from '../../core/market/lease-lifecycle.js';

/** What the market shows a tenant: `prices`, `leases`, `charges`. See docs/cli.md. */

type NodePriceBand = NonNullable<PoolView['nodePrices']>;
type PoolPrice = { gpuModel: string; region: string; nodePrices: NodePriceBand };

export const pricesCommand = tenantCommand<{ model?: string; region?: string }>(
  'prices',
  `usage: gpumarket prices [--model MODEL] [--region REGION] [--json]

Each pool's (GPU model x region) index per GPU-hour from the latest committed round
(GET /v1/market/prices), with that round's node-price band, lowest / median / highest
(GET /v1/rounds/:id), the reserve floor and free GPUs now.
  --model MODEL      only this GPU model
  --region REGION    only this region
  --json             the pools of GET /v1/market/prices, each with its "nodePrices" band added
`,
  { model: { type: 'string' }, region: { type: 'string' } },
  async (context) => {
    expectPositionals(context.positionals, []);
    const client = await context.client();
    const { body } = await client.get<{ pools: PoolView[] }>('/v1/market/prices');
    // The API has no pool filter: filtering here keeps the one request.
    const pools = body.pools.filter(
      (pool) =>
        (!context.values.model || pool.gpuModel === context.values.model) &&
        (!context.values.region || pool.region === context.values.region),
    );
    // Pools priced in the same round share one request for its band (normally all of them).
    const bands = new Map<string, PoolPrice[]>();
    for (const roundId of new Set(pools.map((p) => p.roundId).filter((id): id is string => id !== null))) {
      bands.set(
        roundId,
        (await client.get<{ prices: PoolPrice[] }>(`/v1/rounds/${encodeURIComponent(roundId)}`)).body.prices,
      );
    }
    const withBands = pools.map((pool) => ({
      ...pool,
      nodePrices:
        bands.get(pool.roundId ?? '')?.find((p) => p.gpuModel === pool.gpuModel && p.region === pool.region)
          ?.nodePrices ?? null,
    }));
    context.output({ pools: withBands }, () => pricesTable(withBands));
  },
);

export const leasesCommand = tenantCommand<{
  state?: string;
  'needs-attention'?: boolean;
  limit?: string;
  cursor?: string;
}>(
  'leases',
  `usage: gpumarket leases [--state STATE] [--needs-attention] [--limit N] [--cursor CURSOR] [--json]

Your leases, newest first (GET /v1/leases): what each bid won, where and at what unit price.
  --state STATE        ${LEASE_STATES.join(' | ')}
  --needs-attention    only leases whose workload the market failed to stop
  --limit N            leases per page, 1-200 (default 50)
  --cursor CURSOR      the next page, as the previous page printed
  --json               print the API's JSON
`,
  {
    state: { type: 'string' },
    'needs-attention': { type: 'boolean' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
  },
  async (context) => {
    expectPositionals(context.positionals, []);
    const limit = context.values.limit === undefined ? undefined : parseWholeNumber(context.values.limit, '--limit');
    const { body } = await (
      await context.client()
    ).get<{ leases: LeaseView[]; nextCursor: string | null }>('/v1/leases', {
      state: context.values.state,
      needsAttention: context.values['needs-attention'] ? 'true' : undefined,
      limit,
      cursor: context.values.cursor,
    });
    context.output(
      body,
      () => leasesTable(body.leases) + (body.nextCursor ? `more: gpumarket leases --cursor ${body.nextCursor}\n` : ''),
    );
  },
);

export const chargesCommand = tenantCommand<{ from?: string; to?: string; limit?: string }>(
  'charges',
  `usage: gpumarket charges [--from WHEN] [--to WHEN] [--limit N] [--json]

Your charges (GET /v1/ledger): one entry per lease, node and settled interval, newest first,
with the total over the whole range.
  --from WHEN     ISO 8601, or a duration ago (24h, 7d)
  --to WHEN       ISO 8601, or a duration ago (default now)
  --limit N       entries shown, 1-5000 (default 500); the total covers the whole range
  --json          print the API's JSON
`,
  { from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' } },
  async (context) => {
    expectPositionals(context.positionals, []);
    const from =
      context.values.from === undefined ? undefined : parseInstant(context.values.from, '--from', context.now, -1);
    const to = context.values.to === undefined ? undefined : parseInstant(context.values.to, '--to', context.now, -1);
    if (from && to && from > to)
      throw new UsageError(`--from ${context.values.from} is after --to ${context.values.to}`);
    const limit = context.values.limit === undefined ? undefined : parseWholeNumber(context.values.limit, '--limit');
    const { body } = await (await context.client()).get<LedgerView>('/v1/ledger', { from, to, limit });
    context.output(body, () => chargesTable(body));
  },
);
