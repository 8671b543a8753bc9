-- Slots of the round schedule (the multiples of the period) that got no round, with why, so
-- that every slot has either a round or a recorded miss: a gap is never silent. One row per
-- run of consecutive missed slots (a service down for a day at 5 s periods is one row).
CREATE TABLE missed_round_slots (
  first_slot      timestamptz PRIMARY KEY,
  last_slot       timestamptz NOT NULL,
  slots           integer NOT NULL CHECK (slots >= 1),
  period_seconds  integer NOT NULL CHECK (period_seconds >= 1),
  -- not_run: no round was started for these slots (the service was down, Redis lost the
  --          schedule, or an earlier round ran past them);
  -- late:    the slot's job came after the next slot had begun, too late to clear that period.
  reason          text NOT NULL CHECK (reason IN ('not_run', 'late')),
  detected_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (last_slot >= first_slot)
);
CREATE INDEX missed_round_slots_last_idx ON missed_round_slots (last_slot);
