-- The nvidia-agent adapter's queue (the AgentOrderQueue port): orders that node agents pull by
-- long polling, the agents' acknowledgements, and each node's latest status report of a lease.
-- Everything is in PostgreSQL, so any replica can serve an agent's poll, ack or report.
-- Nodes are the provider's external ids (what agents call themselves); lease ids are the
-- adapter's, kept as text like the port's.

CREATE TABLE agent_orders (
  id                 uuid PRIMARY KEY,
  -- Delivery order: an agent gets its orders oldest first.
  seq                bigserial NOT NULL UNIQUE,
  provider_id        uuid NOT NULL REFERENCES providers (id),
  node               text NOT NULL,
  lease_id           text NOT NULL,
  type               text NOT NULL CHECK (type IN ('place', 'preempt', 'terminate')),
  place              jsonb,
  grace_seconds      integer,
  -- The first acknowledgement wins; NULL until the agent answers.
  ack                jsonb,
  acked_at           timestamptz,
  -- A retryable refusal lets the same order be queued afresh; any other order of the same
  -- type, lease and node is the one a repeated enqueue returns.
  refused_retryable  boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (refused_retryable = false OR ack IS NOT NULL)
);
-- At most one live order per (provider, node, lease, type), even with several replicas enqueueing.
CREATE UNIQUE INDEX agent_orders_live_idx ON agent_orders (provider_id, node, lease_id, type) WHERE NOT refused_retryable;
CREATE INDEX agent_orders_unacked_idx ON agent_orders (provider_id, node, seq) WHERE ack IS NULL;
CREATE INDEX agent_orders_lease_idx ON agent_orders (provider_id, lease_id);

CREATE TABLE agent_status_reports (
  provider_id  uuid NOT NULL REFERENCES providers (id),
  lease_id     text NOT NULL,
  node         text NOT NULL,
  state        text NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'stopped')),
  -- The report as the agent sent it (state, exitCode, message, node).
  report       jsonb NOT NULL,
  reported_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider_id, lease_id, node)
);
