-- Elastic services on several market processes (docs/services.md, "Several market processes").
-- One process at a time runs a service (decides its replica count, bids, drains, ends): it holds
-- the service's runner lease and renews it every tick. Every process's gateway publishes what it
-- sees (held and in-flight requests, concurrency samples), and the runner decides from the sum.

ALTER TABLE services
  ADD COLUMN runner_id    text,
  ADD COLUMN runner_until timestamptz;

-- One row per service and market process, rewritten about every second.
CREATE TABLE service_gateways (
  service_id       uuid NOT NULL REFERENCES services (id),
  process_id       text NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  held             integer NOT NULL CHECK (held >= 0),
  -- {replicaId: requests in flight}
  in_flight        jsonb NOT NULL,
  last_request_at  timestamptz,
  -- [{at, seconds, concurrency}] over the service's stable window, on this process's clock (ms).
  samples          jsonb NOT NULL,
  PRIMARY KEY (service_id, process_id)
);
CREATE INDEX service_gateways_updated_idx ON service_gateways (updated_at);

-- When a replica was told to drain: a gateway that has not published since may still route to it.
ALTER TABLE service_replicas ADD COLUMN draining_since timestamptz;
