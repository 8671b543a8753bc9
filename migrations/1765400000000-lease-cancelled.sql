-- A lease whose bid the tenant cancels ends in its own state, `cancelled`, instead of `completed`
-- with end_reason `cancelled` (core/market/lease-lifecycle.ts defines the states and their
-- transitions). Leases cancelled before this migration move to the new state, so that a filter
-- on `completed` means the work was done, whenever the lease ended.
ALTER TABLE leases DROP CONSTRAINT leases_state_check;
UPDATE leases SET state = 'cancelled' WHERE state = 'completed' AND end_reason = 'cancelled';
ALTER TABLE leases ADD CONSTRAINT leases_state_check
  CHECK (state IN ('allocated', 'running', 'preempting', 'completed', 'cancelled', 'preempted', 'failed'));
