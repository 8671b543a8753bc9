-- Node health (docs/operations.md, "Node health and fencing"). A node's agent heartbeats
-- (POST /v1/agent/heartbeat, and every order poll); a node silent for HEARTBEAT_UNREACHABLE_SECONDS
-- is fenced: its live leases fail with node_unreachable, billed up to last_heartbeat_at, and it
-- takes nothing new until it is heard from again. Nodes that never sent one (Slurm, Kubernetes,
-- simulated fleets) keep last_heartbeat_at NULL and are never fenced.
--
-- unavailable_gpus: the GPUs the agent reported unusable, as [{"index": 3, "reason": "ecc"}]
-- (reason one of vanished, ecc, xid, mig, unhealthy); the market sells only the others.
-- unreachable_since: set when the node was fenced, cleared by its next heartbeat.

ALTER TABLE nodes
  ADD COLUMN last_heartbeat_at  timestamptz,
  ADD COLUMN unreachable_since  timestamptz,
  ADD COLUMN unavailable_gpus   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(unavailable_gpus) = 'array');

-- The fencing sweep: nodes heard from at least once and not fenced yet, oldest heartbeat first.
CREATE INDEX nodes_heartbeat_idx ON nodes (last_heartbeat_at) WHERE last_heartbeat_at IS NOT NULL AND unreachable_since IS NULL;
