-- Time-off events reach webhook endpoints (docs/webhooks.md): a delivery
-- keeps the time-off request its event names, copied from the outbox like
-- the rest of the event, so that building its payload does not depend on
-- the outbox keeping the event. Empty for employee events.

ALTER TABLE webhook_deliveries ADD COLUMN time_off_id TEXT NOT NULL DEFAULT '';
