-- A terminate order that was dead-lettered leaves a workload the market could not stop: it may
-- still run on the provider's GPUs. The lease has ended for billing (the tenant is not charged
-- for work the market tried to stop), but its GPUs stay held (no new lease is placed on them)
-- until its adapter confirms the workload is gone; meanwhile the market re-sends the terminate.
-- These columns say so, for the market, the operator and the tenant.
ALTER TABLE leases
  ADD COLUMN stop_failed_at     timestamptz,
  ADD COLUMN stop_error         text,
  ADD COLUMN stop_confirmed_at  timestamptz;
CREATE INDEX leases_stop_unconfirmed_idx ON leases (stop_failed_at) WHERE stop_failed_at IS NOT NULL AND stop_confirmed_at IS NULL;
