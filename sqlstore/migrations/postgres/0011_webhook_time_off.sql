-- Time-off events reach webhook endpoints (docs/webhooks.md). The same
-- logical schema as SQLite's.

ALTER TABLE webhook_deliveries ADD COLUMN time_off_id TEXT COLLATE "C" NOT NULL DEFAULT '';
