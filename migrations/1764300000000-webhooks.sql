-- Webhooks: tenants' endpoints, one delivery per (event, endpoint) written in the transaction of
-- the event, and every attempt made to deliver it.

CREATE TABLE webhook_endpoints (
  id                           uuid PRIMARY KEY,
  tenant_id                    uuid NOT NULL REFERENCES tenants (id),
  url                          text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  events                       text[] NOT NULL CHECK (cardinality(events) > 0),
  -- AES-256-GCM envelopes (see secret-box.ts); the secret itself is never stored in the clear.
  -- NULL once the endpoint is deleted.
  secret_sealed                text,
  -- The secret before the last rotation, still signing until previous_secret_expires_at.
  previous_secret_sealed       text,
  previous_secret_expires_at   timestamptz,
  secret_rotated_at            timestamptz,
  disabled_at                  timestamptz,
  disabled_reason              text,
  -- The current run of failed attempts (any delivery); reset by any success.
  consecutive_failures         integer NOT NULL DEFAULT 0,
  failing_since                timestamptz,
  created_at                   timestamptz NOT NULL DEFAULT now(),
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  -- Deleted endpoints stay as rows so that deliveries keep their history, without secrets.
  deleted_at                   timestamptz,
  CHECK (deleted_at IS NOT NULL OR secret_sealed IS NOT NULL)
);
-- What the fan-out reads in every transaction that writes events.
CREATE INDEX webhook_endpoints_live_idx ON webhook_endpoints (tenant_id) WHERE deleted_at IS NULL AND disabled_at IS NULL;
CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY,
  endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  event_id         uuid NOT NULL REFERENCES market_events (id),
  -- A redelivery asked for by the tenant is a new delivery of the same event.
  redelivery_of    uuid REFERENCES webhook_deliveries (id),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz DEFAULT now(),
  -- Held by the worker sending it, so that a duplicate job does not send it twice at once.
  locked_until     timestamptz,
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_latency_ms  integer,
  last_error       text,
  -- clock_timestamp(): the moment the row is written, at the end of the event's transaction,
  -- so delivered_at - created_at is close to the time from commit to delivery.
  created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  delivered_at     timestamptz
);
CREATE UNIQUE INDEX webhook_deliveries_once_idx ON webhook_deliveries (event_id, endpoint_id) WHERE redelivery_of IS NULL;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- An endpoint's next due delivery, and its attempts in flight (see webhook-deliveries.repository.ts).
CREATE INDEX webhook_deliveries_endpoint_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_held_idx ON webhook_deliveries (endpoint_id) WHERE locked_until IS NOT NULL;

CREATE TABLE webhook_attempts (
  delivery_id  uuid NOT NULL REFERENCES webhook_deliveries (id),
  attempt      integer NOT NULL CHECK (attempt > 0),
  started_at   timestamptz NOT NULL,
  status_code  integer,
  latency_ms   integer,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);
