-- The workloads of the simulated fleets the service builds for `simulated` providers (the demo,
-- tests). They stand in for a provider's controller, whose state outlives any one market
-- process: kept here, a restarted process or another replica sees the same workloads instead of
-- reporting running leases as vanished. `lease_id` is text: the adapter contract suite places
-- made-up lease ids on fleets of its own.
--
-- Like a real controller (Slurm would run a second job if asked twice), nothing here stops a
-- second workload for one lease: placing once is the adapter's job (it looks the lease up under
-- a lock of the fleet), and tests count the rows per lease to check that it does.
CREATE TABLE simulated_workloads (
  id            bigserial PRIMARY KEY,
  provider_id   uuid NOT NULL REFERENCES providers (id),
  lease_id      text NOT NULL,
  handle        text NOT NULL,
  -- [{externalId, gpuIndices}] per granted node.
  placements    jsonb NOT NULL,
  started_at    timestamptz NOT NULL,
  -- When the workload ends by itself: its run time over the time scale, or an injected exit.
  ends_at       timestamptz NOT NULL,
  exit_code     integer NOT NULL,
  ignores_term  boolean NOT NULL,
  -- The first stop signal (SIGTERM of a notice, or a terminate) and when it turns into SIGKILL.
  term_at       timestamptz,
  kill_at       timestamptz
);
CREATE INDEX simulated_workloads_lease_idx ON simulated_workloads (provider_id, lease_id);
CREATE INDEX simulated_workloads_live_idx ON simulated_workloads (provider_id, ends_at);
