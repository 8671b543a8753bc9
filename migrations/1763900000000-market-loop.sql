-- The running market: rounds and their pool prices, leases (a won bid placed on nodes), orders
-- to provider adapters, the exact ledger, market events for tenants, and the transactional
-- outbox that moves orders and events to the job queue only after the round has committed.

CREATE TABLE rounds (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq            bigserial NOT NULL UNIQUE,
  -- One round per period: the period's start is unique, so a second replica's claim fails.
  period_start   timestamptz NOT NULL UNIQUE,
  state          text NOT NULL DEFAULT 'clearing' CHECK (state IN ('clearing', 'committed', 'abandoned')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  committed_at   timestamptz,
  solver         text,
  solver_status  text CHECK (solver_status IN ('optimal', 'feasible', 'heuristic')),
  welfare        numeric(24, 6),
  upper_bound    numeric(24, 6),
  open_bids      integer NOT NULL DEFAULT 0,
  placements     integer NOT NULL DEFAULT 0,
  preemptions    integer NOT NULL DEFAULT 0,
  expired        integer NOT NULL DEFAULT 0,
  -- Milliseconds per phase (snapshot, clear and the clearing core's own phases, commit, relay).
  timings        jsonb NOT NULL DEFAULT '{}'::jsonb,
  stats          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX rounds_recent_idx ON rounds (period_start DESC) WHERE state = 'committed';

CREATE TABLE pool_prices (
  round_id         uuid NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  period_start     timestamptz NOT NULL,
  gpu_model        text NOT NULL,
  region           text NOT NULL,
  price            numeric(14, 4) NOT NULL CHECK (price >= 0),
  marginal_bid_id  uuid,
  supply_gpus      integer NOT NULL,
  sold_gpus        integer NOT NULL,
  PRIMARY KEY (round_id, gpu_model, region)
);
CREATE INDEX pool_prices_series_idx ON pool_prices (gpu_model, region, period_start);
CREATE INDEX pool_prices_period_idx ON pool_prices (period_start);

CREATE TABLE leases (
  id               uuid PRIMARY KEY,
  bid_id           uuid NOT NULL REFERENCES bids (id),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  round_id         uuid NOT NULL REFERENCES rounds (id),
  gpu_model        text NOT NULL,
  gpus             integer NOT NULL CHECK (gpus > 0),
  -- The winning offer's limit per GPU-hour: the lease never pays more.
  limit_price      numeric(14, 4) NOT NULL,
  preemptible      boolean NOT NULL,
  state            text NOT NULL DEFAULT 'allocated'
                   CHECK (state IN ('allocated', 'running', 'preempting', 'completed', 'preempted', 'failed')),
  runtime_seconds  integer NOT NULL CHECK (runtime_seconds > 0),
  allocated_at     timestamptz NOT NULL,
  started_at       timestamptz,
  protected_until  timestamptz,
  notice_ends_at   timestamptz,
  ended_at         timestamptz,
  end_reason       text,
  exit_code        integer,
  -- Charges are written up to here; the next settlement starts from it.
  settled_until    timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leases_live_idx ON leases (state) WHERE state IN ('allocated', 'running', 'preempting');
CREATE INDEX leases_tenant_idx ON leases (tenant_id, created_at DESC);
-- A bid has at most one live lease: a retried commit can never place it twice.
CREATE UNIQUE INDEX leases_one_live_per_bid_idx ON leases (bid_id) WHERE state IN ('allocated', 'running', 'preempting');

-- Where a lease runs: GPUs per node, with the price it pays there this period.
CREATE TABLE lease_nodes (
  lease_id     uuid NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
  node_id      uuid NOT NULL REFERENCES nodes (id),
  provider_id  uuid NOT NULL REFERENCES providers (id),
  region       text NOT NULL,
  gpus         integer NOT NULL CHECK (gpus > 0),
  unit_price   numeric(14, 4) NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (lease_id, node_id)
);
CREATE INDEX lease_nodes_node_idx ON lease_nodes (node_id);

CREATE TABLE orders (
  id            uuid PRIMARY KEY,
  lease_id      uuid NOT NULL REFERENCES leases (id),
  provider_id   uuid NOT NULL REFERENCES providers (id),
  type          text NOT NULL CHECK (type IN ('place', 'preempt', 'terminate')),
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'done', 'failed', 'withdrawn')),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  -- What the adapter returned from place (a Slurm job id, a pod name).
  handle        text,
  grace_seconds integer,
  not_before    timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_lease_idx ON orders (lease_id);
CREATE INDEX orders_open_idx ON orders (provider_id, not_before) WHERE state IN ('pending', 'sent');

-- Exact money: charge = payout + fee on every row, to the last of six decimals.
CREATE TABLE ledger_entries (
  id            bigserial PRIMARY KEY,
  round_id      uuid REFERENCES rounds (id),
  lease_id      uuid NOT NULL REFERENCES leases (id),
  bid_id        uuid NOT NULL,
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  provider_id   uuid NOT NULL REFERENCES providers (id),
  node_id       uuid NOT NULL REFERENCES nodes (id),
  gpu_model     text NOT NULL,
  region        text NOT NULL,
  period_start  timestamptz NOT NULL,
  period_end    timestamptz NOT NULL,
  seconds       integer NOT NULL CHECK (seconds >= 0),
  gpus          integer NOT NULL,
  unit_price    numeric(14, 4) NOT NULL,
  charge        numeric(24, 6) NOT NULL,
  fee           numeric(24, 6) NOT NULL,
  payout        numeric(24, 6) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (charge = payout + fee),
  CHECK (period_end >= period_start)
);
CREATE INDEX ledger_tenant_idx ON ledger_entries (tenant_id, period_end);
CREATE INDEX ledger_provider_idx ON ledger_entries (provider_id, period_end);
CREATE INDEX ledger_period_idx ON ledger_entries (period_end);

-- What happened, for tenants (webhooks, timelines): one row per event, written in the same
-- transaction as the change it reports.
CREATE TABLE market_events (
  id          uuid PRIMARY KEY,
  tenant_id   uuid REFERENCES tenants (id),
  type        text NOT NULL,
  subject_id  uuid,
  data        jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX market_events_tenant_idx ON market_events (tenant_id, created_at);

-- The transactional outbox: rows commit with the change; a relay enqueues them afterwards.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  job_name    text NOT NULL,
  payload     jsonb NOT NULL,
  job_id      text,
  deliver_at  timestamptz NOT NULL DEFAULT now(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  relayed_at  timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE relayed_at IS NULL;
