-- Elastic services' request counts, stored (docs/services.md, "Traffic"): each market process's
-- gateway adds what it counted since its last flush (about every second), so the figures are
-- every process's together and survive restarts. Totals on the service; a per-minute series
-- beside it (kept RETENTION_DAYS like the other time series).

ALTER TABLE services
  ADD COLUMN requests_total  bigint NOT NULL DEFAULT 0 CHECK (requests_total >= 0),
  ADD COLUMN rejected_total  bigint NOT NULL DEFAULT 0 CHECK (rejected_total >= 0),
  ADD COLUMN timed_out_total bigint NOT NULL DEFAULT 0 CHECK (timed_out_total >= 0);

CREATE TABLE service_traffic (
  service_id  uuid NOT NULL REFERENCES services (id),
  -- The minute the counts were flushed in (date_trunc('minute')).
  minute      timestamptz NOT NULL,
  -- Requests the gateway authorised; of them, answered 503 (queue full) and 504 (no replica in time).
  requests    bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
  rejected    bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
  timed_out   bigint NOT NULL DEFAULT 0 CHECK (timed_out >= 0),
  PRIMARY KEY (service_id, minute)
);
CREATE INDEX service_traffic_minute_idx ON service_traffic (minute);
