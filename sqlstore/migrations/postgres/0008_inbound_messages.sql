-- Inbound webhooks and time-off events (docs/sources.md). The same
-- logical schema as SQLite's.

CREATE TABLE source_messages (
	source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	message_id  TEXT COLLATE "C" NOT NULL CHECK (message_id <> ''),
	received_at BIGINT NOT NULL,
	outcome     TEXT NOT NULL DEFAULT '',
	CONSTRAINT source_messages_pkey PRIMARY KEY (source_id, message_id)
);

CREATE INDEX source_messages_received_idx ON source_messages (source_id, received_at);

ALTER TABLE change_events ADD COLUMN time_off_id TEXT COLLATE "C" NOT NULL DEFAULT '';
