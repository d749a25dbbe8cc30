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

-- Every key expires from now on. Keys created before this migration had no
-- expiry; they get the default maximum lifetime (365 days) from their
-- creation, or from now when their creation time is unknown.
UPDATE api_keys SET expires_at = created_at + 31536000000000
	WHERE expires_at IS NULL AND created_at IS NOT NULL;
UPDATE api_keys SET expires_at = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) + 31536000000000
	WHERE expires_at IS NULL;
