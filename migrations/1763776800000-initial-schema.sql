-- The service foundation: who may call (API keys for admin, finance, tenants, providers),
-- the GPU model catalogue, providers' nodes, and tenants' bids with their offers.
-- Money is numeric (exact); prices per GPU-hour carry at most 4 decimals.

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE providers (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  adapter     text NOT NULL CHECK (adapter IN ('simulated', 'slurm', 'kubernetes', 'nvidia-agent')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are random 256-bit secrets, so a SHA-256 digest is enough to store them safely
-- (a slow password hash buys nothing against guessing 2^256 values and would cost every request).
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  key_hash     text NOT NULL UNIQUE,
  key_prefix   text NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'finance', 'tenant', 'provider')),
  name         text NOT NULL,
  tenant_id    uuid REFERENCES tenants (id),
  provider_id  uuid REFERENCES providers (id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  CHECK ((role = 'tenant') = (tenant_id IS NOT NULL)),
  CHECK ((role = 'provider') = (provider_id IS NOT NULL))
);

CREATE TABLE gpu_models (
  name                   text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  memory_gb              integer NOT NULL CHECK (memory_gb > 0),
  bf16_tflops            numeric(10, 2) NOT NULL CHECK (bf16_tflops > 0),
  memory_bandwidth_tbs   numeric(8, 3) NOT NULL CHECK (memory_bandwidth_tbs > 0),
  created_at             timestamptz NOT NULL DEFAULT now()
);

-- NVIDIA data-sheet figures: dense BF16 tensor TFLOP/s (without sparsity) and HBM/GDDR bandwidth.
INSERT INTO gpu_models (name, memory_gb, bf16_tflops, memory_bandwidth_tbs) VALUES
  ('B200-SXM-180GB', 180, 2250, 8.0),
  ('H200-SXM-141GB', 141, 989.5, 4.8),
  ('H100-SXM-80GB', 80, 989.5, 3.35),
  ('H100-PCIe-80GB', 80, 756, 2.0),
  ('A100-SXM-80GB', 80, 312, 2.039),
  ('A100-SXM-40GB', 40, 312, 1.555),
  ('L40S-48GB', 48, 362.05, 0.864),
  ('L4-24GB', 24, 121, 0.3);

CREATE TABLE nodes (
  id             uuid PRIMARY KEY,
  provider_id    uuid NOT NULL REFERENCES providers (id),
  external_id    text NOT NULL,
  gpu_model      text NOT NULL REFERENCES gpu_models (name),
  gpus           integer NOT NULL CHECK (gpus BETWEEN 1 AND 1024),
  region         text NOT NULL,
  block          text NOT NULL,
  -- The NVLink domain; a node not in a multi-node domain (NVL72) is its own domain.
  nvlink_domain  text NOT NULL,
  compliance     text[] NOT NULL DEFAULT '{}',
  reserve_price  numeric(14, 4) NOT NULL CHECK (reserve_price >= 0),
  state          text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'draining', 'down')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider_id, external_id)
);
CREATE INDEX nodes_market_idx ON nodes (gpu_model, region) WHERE state = 'active';

CREATE TABLE bids (
  id                  uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL REFERENCES tenants (id),
  status              text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'allocated', 'running', 'completed', 'cancelled', 'expired', 'failed')),
  gpus                integer NOT NULL CHECK (gpus BETWEEN 1 AND 4096),
  contiguity          text NOT NULL CHECK (contiguity IN ('node', 'nvlink', 'block', 'none')),
  preemptible         boolean NOT NULL,
  runtime_seconds     integer NOT NULL CHECK (runtime_seconds > 0),
  remaining_seconds   integer NOT NULL CHECK (remaining_seconds >= 0),
  not_before          timestamptz,
  deadline            timestamptz,
  regions             text[] NOT NULL DEFAULT '{}',
  compliance          text[] NOT NULL DEFAULT '{}',
  min_gpu_memory_gb   integer NOT NULL DEFAULT 0 CHECK (min_gpu_memory_gb >= 0),
  workload            jsonb NOT NULL,
  last_loss_reason    text,
  idempotency_key     text,
  request_hash        text,
  -- Millisecond precision, so a timestamp read into JavaScript and sent back as a cursor matches exactly.
  created_at          timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (deadline IS NULL OR not_before IS NULL OR deadline > not_before),
  CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE UNIQUE INDEX bids_idempotency_idx ON bids (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX bids_tenant_page_idx ON bids (tenant_id, created_at DESC, id DESC);
CREATE INDEX bids_open_idx ON bids (created_at) WHERE status = 'open';

-- An XOR bundle: at most one offer of a bid is used. `rank` keeps the order the tenant gave.
CREATE TABLE bid_offers (
  bid_id     uuid NOT NULL REFERENCES bids (id) ON DELETE CASCADE,
  rank       smallint NOT NULL,
  gpu_model  text NOT NULL REFERENCES gpu_models (name),
  max_price  numeric(14, 4) NOT NULL CHECK (max_price > 0),
  PRIMARY KEY (bid_id, rank),
  UNIQUE (bid_id, gpu_model)
);
