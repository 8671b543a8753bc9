-- API keys managed through the API (GET/POST/DELETE /v1/api-keys, POST /v1/api-keys/:id/rotate):
-- an optional expiry, when a key was last used (written at most once a minute per key, never on
-- every request), the key that replaced a rotated one, and an audit trail of every change.

ALTER TABLE api_keys
  ADD COLUMN expires_at    timestamptz,
  ADD COLUMN last_used_at  timestamptz,
  ADD COLUMN replaced_by   uuid REFERENCES api_keys (id);

-- Lists: a tenant's or provider's own keys, and everyone's for admin, newest first.
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id, created_at) WHERE tenant_id IS NOT NULL;
CREATE INDEX api_keys_provider_idx ON api_keys (provider_id, created_at) WHERE provider_id IS NOT NULL;
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);

-- Who changed which key, and when. actor_key_id is the key that made the request; NULL when the
-- service itself acted (the first admin key, ADMIN_API_KEY at start-up, a new tenant's or
-- provider's first key). related_key_id links a rotation's two keys: on the old key's `rotated`
-- row it is the new key, on the new key's `created` row the old one.
CREATE TABLE api_key_events (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key_id          uuid NOT NULL REFERENCES api_keys (id),
  action          text NOT NULL CHECK (action IN ('created', 'revoked', 'rotated')),
  actor_key_id    uuid REFERENCES api_keys (id),
  actor_role      text CHECK (actor_role IN ('admin', 'finance', 'tenant', 'provider')),
  related_key_id  uuid REFERENCES api_keys (id),
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((actor_key_id IS NULL) = (actor_role IS NULL))
);
CREATE INDEX api_key_events_key_idx ON api_key_events (key_id, created_at);
CREATE INDEX api_key_events_created_idx ON api_key_events (created_at, id);

-- Keys from before this migration: what the rows say about them (who acted is not known).
INSERT INTO api_key_events (key_id, action, details, created_at)
  SELECT id, 'created', '{"backfilled": true}'::jsonb, created_at FROM api_keys;
INSERT INTO api_key_events (key_id, action, details, created_at)
  SELECT id, 'revoked', '{"backfilled": true}'::jsonb, revoked_at FROM api_keys WHERE revoked_at IS NOT NULL;
