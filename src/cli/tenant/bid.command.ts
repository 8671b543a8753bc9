import { randomUUID } from 'node:crypto';
import { BID_OPTIONS, bidBodyFromFlags, type BidFlags, parseWholeNumber } from './tenant-args.js';
import { expectPositionals, tenantCommand } from './tenant-command.js';
import { UsageError } from './tenant-errors.js';
import { bidDetail, bidsTable, type BidView, quoteTables, type QuoteView } from './tenant-tables.js';

/** The bid commands: `bid` (submit or show), `bids`, `cancel`, `quote`. See docs/cli.md. */

const BID_FLAGS = `  --gpus N                   gang size (required)
  --offer MODEL=PRICE        an acceptable GPU model and its limit per GPU-hour; repeat for several (required)
  --contiguity TIER          node | nvlink | block | none (default node)
  --preemptible              may be preempted after its protected run (cheaper)
  --runtime DURATION         run time: hours (4, 1.5) or 4h, 90m, 1h30m, 2d (required)
  --deadline WHEN            window deadline: ISO 8601 or from now (24h, 2d); alias --window-deadline
  --not-before WHEN          window start (needs --deadline; default now)
  --region R                 allowed region; repeat for several (default any)
  --compliance TAG           required compliance tag; repeatable
  --min-gpu-memory GB        minimum GPU memory
  --image IMAGE              container image of the workload
  --command "CMD ARGS"       the workload's command, split on spaces; or give it after --
  --env NAME=VALUE           workload environment; repeatable
  --json                     print the API's JSON`;

export const bidUsage = `usage: gpumarket bid --gpus N --offer MODEL=PRICE... --runtime DURATION [options] [-- COMMAND ARGS...]
       gpumarket bid show BID_ID [--json]

Submits a bid (POST /v1/bids) and prints it, or shows one bid with its leases.
${BID_FLAGS}
  --idempotency-key KEY      default: a new random key, printed; rerun with it to retry without a duplicate
`;

export const bidCommand = tenantCommand<BidFlags & { 'idempotency-key'?: string }>(
  'bid',
  bidUsage,
  { ...BID_OPTIONS, 'idempotency-key': { type: 'string' } },
  async (context) => {
    if (context.positionals[0] === 'show') {
      const [, id] = expectPositionals(context.positionals, ['show', 'BID_ID']);
      const stray = Object.keys(context.values).filter((name) => name !== 'json');
      if (stray.length > 0) throw new UsageError(`bid show takes no --${stray[0]}`);
      const { body } = await (await context.client()).get<BidView>(`/v1/bids/${encodeURIComponent(id!)}`);
      context.output(body, () => bidDetail(body));
      return;
    }
    if (context.positionals.length > 0)
      throw new UsageError(
        `unexpected argument ${JSON.stringify(context.positionals[0])} (did you mean 'bid show ID'?)`,
      );
    const request = bidBodyFromFlags(context.values, context.rest, context.now);
    const key = context.values['idempotency-key'] ?? randomUUID();
    const client = await context.client();
    context.note(`idempotency key: ${key}`);
    const { status, body } = await client.post<BidView>('/v1/bids', request, { 'Idempotency-Key': key });
    // 200 is the API saying this key already made a bid: the earlier one is shown, nothing new.
    if (status === 200) context.note(`this idempotency key already submitted bid ${body.id}; no new bid was made`);
    context.output(body, () => bidDetail(body));
  },
);

export const bidsCommand = tenantCommand<{ status?: string; limit?: string; cursor?: string; all?: boolean }>(
  'bids',
  `usage: gpumarket bids [--status STATUS] [--limit N] [--cursor CURSOR | --all] [--json]

Lists your bids, newest first (GET /v1/bids).
  --status STATUS    open | allocated | running | completed | cancelled | expired | failed
  --limit N          bids per page, 1-200 (default 50)
  --cursor CURSOR    the next page, as the previous page printed
  --all              follow every page (with --json: one {"bids": [...]} of them all)
  --json             print the API's JSON
`,
  { status: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } },
  async (context) => {
    expectPositionals(context.positionals, []);
    const { status, cursor, all } = context.values;
    if (all && cursor) throw new UsageError('--all and --cursor: give one');
    const limit = context.values.limit === undefined ? undefined : parseWholeNumber(context.values.limit, '--limit');
    const client = await context.client();
    type Page = { bids: BidView[]; nextCursor: string | null };
    let page = (await client.get<Page>('/v1/bids', { status, limit, cursor })).body;
    if (all) {
      const bids = [...page.bids];
      while (page.nextCursor) {
        page = (await client.get<Page>('/v1/bids', { status, limit, cursor: page.nextCursor })).body;
        bids.push(...page.bids);
      }
      page = { bids, nextCursor: null };
    }
    context.output(
      page,
      () => bidsTable(page.bids) + (page.nextCursor ? `more: gpumarket bids --cursor ${page.nextCursor}\n` : ''),
    );
  },
);

export const cancelCommand = tenantCommand<Record<string, never>>(
  'cancel',
  `usage: gpumarket cancel BID_ID [--json]

Cancels a bid (DELETE /v1/bids/:id); a lease it holds is stopped. Exits 3 when the bid has
already finished.
`,
  {},
  async (context) => {
    const [id] = expectPositionals(context.positionals, ['BID_ID']);
    const { body } = await (await context.client()).delete<BidView>(`/v1/bids/${encodeURIComponent(id!)}`);
    context.output(body, () => `cancelled bid ${body.id}: status ${body.status}\n`);
  },
);

export const quoteCommand = tenantCommand<BidFlags>(
  'quote',
  `usage: gpumarket quote --gpus N --offer MODEL=PRICE... --runtime DURATION [options]

What every option of the bid costs to win at the latest node prices (POST /v1/quotes): each
offer x contiguity tier x preemptible or not x now or within the window. Nothing is stored.
Takes the flags of 'gpumarket bid'; * marks the option they ask for.
${BID_FLAGS}
`,
  BID_OPTIONS,
  async (context) => {
    expectPositionals(context.positionals, []);
    const request = bidBodyFromFlags(context.values, context.rest, context.now);
    const { body } = await (await context.client()).post<QuoteView>('/v1/quotes', request);
    context.output(body, () => quoteTables(body));
  },
);
