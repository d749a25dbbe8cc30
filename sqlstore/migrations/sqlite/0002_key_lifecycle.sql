-- Automatic key rotation: a consumer's policy, and the delivery box where
-- the secrets of keys created by rotation wait for an operator. A delivery
-- row is deleted when it is fetched, and with its key or consumer.
ALTER TABLE consumers ADD COLUMN rotate_keys_after INTEGER NOT NULL DEFAULT 0 CHECK (rotate_keys_after >= 0);
ALTER TABLE consumers ADD COLUMN rotation_grace INTEGER NOT NULL DEFAULT 0 CHECK (rotation_grace >= 0);

CREATE TABLE key_deliveries (
	key_id      TEXT NOT NULL PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
	consumer_id TEXT NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	replaces_id TEXT NOT NULL DEFAULT '',
	secret      TEXT NOT NULL CHECK (secret <> ''),
	created_at  INTEGER
) STRICT;

CREATE INDEX key_deliveries_consumer_idx ON key_deliveries (consumer_id);
