-- Elastic services (docs/services.md): a tenant's endpoint whose replicas are bids in the market
-- (leases when they win), behind a gateway that holds requests while a replica starts.

CREATE TABLE services (
  id                           uuid PRIMARY KEY,
  tenant_id                    uuid NOT NULL REFERENCES tenants (id),
  name                         text NOT NULL,
  -- active: serves and scales; deleting: takes no requests, its replicas drain and end; deleted.
  state                        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'deleting', 'deleted')),
  -- The bid fields every replica bids with (gpus, offers, contiguity, preemptible, regions, ...).
  replica                      jsonb NOT NULL,
  -- {image?, command?, port, readinessPath, env?}
  workload                     jsonb NOT NULL,
  min_replicas                 integer NOT NULL CHECK (min_replicas >= 0),
  max_replicas                 integer NOT NULL CHECK (max_replicas >= 1 AND max_replicas >= min_replicas),
  target_concurrency           integer NOT NULL CHECK (target_concurrency >= 1),
  scale_down_delay_seconds     integer NOT NULL CHECK (scale_down_delay_seconds >= 0),
  scale_to_zero_after_seconds  integer NOT NULL CHECK (scale_to_zero_after_seconds >= 0),
  max_pending_requests         integer NOT NULL CHECK (max_pending_requests >= 0),
  pending_timeout_seconds      integer NOT NULL CHECK (pending_timeout_seconds >= 1),
  stable_window_seconds        integer NOT NULL CHECK (stable_window_seconds >= 1),
  panic_window_seconds         integer NOT NULL CHECK (panic_window_seconds >= 1 AND panic_window_seconds <= stable_window_seconds),
  desired_replicas             integer NOT NULL DEFAULT 0 CHECK (desired_replicas >= 0),
  -- sha256 of the per-service invoke key, which is shown once, at creation.
  invoke_key_hash              text NOT NULL UNIQUE,
  invoke_key_prefix            text NOT NULL,
  created_at                   timestamptz NOT NULL DEFAULT now(),
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  deleted_at                   timestamptz
);
CREATE UNIQUE INDEX services_tenant_name_idx ON services (tenant_id, name) WHERE state <> 'deleted';
CREATE INDEX services_live_idx ON services (state) WHERE state <> 'deleted';

-- One desired replica: one bid (created through the bid code path, Idempotency-Key
-- `service-replica:<id>`), and the lease it wins. Times split a cold start into its stages.
CREATE TABLE service_replicas (
  id            uuid PRIMARY KEY,
  service_id    uuid NOT NULL REFERENCES services (id),
  -- 1-based; replica k bids the value of rank k (src/core/services/replica-value.ts).
  rank          integer NOT NULL CHECK (rank >= 1),
  bid_id        uuid REFERENCES bids (id),
  lease_id      uuid,
  -- bidding: bid open; starting: lease placed, not ready; ready: routable; noticed: its lease is
  -- preempting (no new requests); draining: scaled down or deleted (no new requests); ended.
  state         text NOT NULL DEFAULT 'bidding' CHECK (state IN ('bidding', 'starting', 'ready', 'noticed', 'draining', 'ended')),
  endpoint      text,
  -- No replica of the service was ready when this one was asked for.
  from_zero     boolean NOT NULL DEFAULT false,
  -- The replica this one replaces (a preempted one), if any.
  replaces      uuid REFERENCES service_replicas (id),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  allocated_at  timestamptz,
  spawned_at    timestamptz,
  listening_at  timestamptz,
  ready_at      timestamptz,
  ended_at      timestamptz,
  end_reason    text
);
CREATE INDEX service_replicas_live_idx ON service_replicas (service_id) WHERE state <> 'ended';
CREATE INDEX service_replicas_ready_idx ON service_replicas (service_id, ready_at DESC) WHERE ready_at IS NOT NULL;

-- Every change of a service's desired replica count, with the autoscaler's inputs.
CREATE TABLE service_scaling_decisions (
  id             bigserial PRIMARY KEY,
  service_id     uuid NOT NULL REFERENCES services (id),
  decided_at     timestamptz NOT NULL DEFAULT now(),
  from_replicas  integer NOT NULL,
  to_replicas    integer NOT NULL,
  reason         text NOT NULL,
  inputs         jsonb NOT NULL
);
CREATE INDEX service_scaling_decisions_service_idx ON service_scaling_decisions (service_id, id DESC);
