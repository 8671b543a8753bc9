-- Outbox rows the queue refuses (a malformed job) are set aside with their error instead of
-- holding back every row behind them.
ALTER TABLE outbox ADD COLUMN failed_at timestamptz;
ALTER TABLE outbox ADD COLUMN error text;
CREATE INDEX outbox_failed_idx ON outbox (id) WHERE failed_at IS NOT NULL;
