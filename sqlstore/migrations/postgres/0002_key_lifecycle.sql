-- Automatic key rotation: a consumer's policy, and the delivery box where
-- the secrets of keys created by rotation wait for an operator. A delivery
-- row is deleted when it is fetched, and with its key or consumer.
ALTER TABLE consumers ADD COLUMN rotate_keys_after BIGINT NOT NULL DEFAULT 0 CHECK (rotate_keys_after >= 0);
ALTER TABLE consumers ADD COLUMN rotation_grace BIGINT NOT NULL DEFAULT 0 CHECK (rotation_grace >= 0);

CREATE TABLE key_deliveries (
	key_id      TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
	consumer_id TEXT COLLATE "C" NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	replaces_id TEXT COLLATE "C" NOT NULL DEFAULT '',
	secret      TEXT COLLATE "C" NOT NULL CHECK (secret <> ''),
	created_at  BIGINT,
	CONSTRAINT key_deliveries_pkey PRIMARY KEY (key_id)
);

CREATE INDEX key_deliveries_consumer_idx ON key_deliveries (consumer_id);

-- Every key expires from now on. Keys created before this migration had no
-- expiry; they get the default maximum lifetime (365 days) from their
-- creation, or from now when their creation time is unknown.
UPDATE api_keys SET expires_at = created_at + 31536000000000
	WHERE expires_at IS NULL AND created_at IS NOT NULL;
UPDATE api_keys SET expires_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + 31536000000000
	WHERE expires_at IS NULL;
