-- Prices a market can stand behind (market.md section 5a): every node has a price each round
-- (its reserve plus a scarcity rent), a lease pays min(its limit, the GPU-weighted mean of its
-- nodes' prices), providers earn the node price for every GPU-second sold, and when a limit
-- caps a lease the difference is uplift, paid by the market out of its fees:
-- charge + uplift = payout + fee on every ledger row.

-- Each round's price of every node with a usable GPU.
CREATE TABLE node_prices (
  round_id      uuid NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  period_start  timestamptz NOT NULL,
  node_id       uuid NOT NULL REFERENCES nodes (id),
  provider_id   uuid NOT NULL REFERENCES providers (id),
  gpu_model     text NOT NULL,
  region        text NOT NULL,
  reserve_price numeric(14, 4) NOT NULL,
  price         numeric(18, 6) NOT NULL,
  PRIMARY KEY (round_id, node_id),
  CHECK (price >= reserve_price)
);
CREATE INDEX node_prices_node_idx ON node_prices (node_id, period_start);
CREATE INDEX node_prices_provider_idx ON node_prices (provider_id, period_start);
CREATE INDEX node_prices_period_idx ON node_prices (period_start);

-- The pool index (lowest contestable node price), its node-price band and the VWAP of what
-- placements and kept leases pay there.
ALTER TABLE pool_prices ALTER COLUMN price TYPE numeric(18, 6);
ALTER TABLE pool_prices
  ADD COLUMN min_node_price    numeric(18, 6),
  ADD COLUMN median_node_price numeric(18, 6),
  ADD COLUMN max_node_price    numeric(18, 6),
  ADD COLUMN charge_vwap       numeric(18, 6),
  ADD COLUMN paid_gpus         integer;
-- Rounds before node prices had one price per pool: it was every node's price.
UPDATE pool_prices SET min_node_price = price, median_node_price = price, max_node_price = price;

-- A lease's share of a node: the node's price this period and the lease's unit price.
ALTER TABLE lease_nodes ALTER COLUMN unit_price TYPE numeric(18, 6);
ALTER TABLE lease_nodes ADD COLUMN node_price numeric(18, 6), ADD COLUMN uplift numeric(18, 6) NOT NULL DEFAULT 0;
UPDATE lease_nodes SET node_price = unit_price;
ALTER TABLE lease_nodes ALTER COLUMN node_price SET NOT NULL;
ALTER TABLE lease_nodes ADD CHECK (node_price >= 0), ADD CHECK (uplift >= 0);

-- The ledger: gross = node price x GPU-hours; the tenant's charge and the market's uplift
-- split it; the provider's payout and the market's fee split it too.
ALTER TABLE ledger_entries ALTER COLUMN unit_price TYPE numeric(18, 6);
ALTER TABLE ledger_entries ADD COLUMN node_price numeric(18, 6), ADD COLUMN uplift numeric(24, 6) NOT NULL DEFAULT 0;
UPDATE ledger_entries SET node_price = unit_price;
ALTER TABLE ledger_entries ALTER COLUMN node_price SET NOT NULL;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_balanced CHECK (charge + uplift = payout + fee), ADD CHECK (uplift >= 0);

-- The round audit reads each round's round.cleared events by round (winners' unit prices,
-- paradoxical rejections); those events are kept for good, so without this it scans them all.
CREATE INDEX market_events_round_cleared_idx ON market_events (subject_id) WHERE type = 'round.cleared';
