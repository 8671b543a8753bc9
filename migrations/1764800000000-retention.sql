-- Retention (src/modules/retention): what the hourly sweep looks rows up by, so that deleting
-- old deliveries, events and relayed outbox rows reads only what it deletes.
-- round.cleared events are kept for good (the round audit reads them), so they stay out of the
-- index the sweep walks, which would otherwise re-read all of them in every batch.
CREATE INDEX market_events_expiring_idx ON market_events (created_at) WHERE type <> 'round.cleared';
-- "Is any delivery left for this event?" (the unique index covers only first deliveries).
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_redelivery_idx ON webhook_deliveries (redelivery_of) WHERE redelivery_of IS NOT NULL;
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (created_at) WHERE status <> 'pending';
CREATE INDEX outbox_relayed_idx ON outbox (relayed_at) WHERE relayed_at IS NOT NULL;
