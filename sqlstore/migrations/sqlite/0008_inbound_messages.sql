-- Inbound webhooks and time-off events (docs/sources.md).

-- The ids of the signed messages each webhook source sent, so that a
-- replayed message is answered with the outcome it had and never applied
-- twice. A row is inserted first in the transaction that applies its
-- message, so the two commit together or not at all; rows older than a
-- day (hrgate.MessageRetention) are deleted as new ones arrive. outcome
-- is the JSON answer given (ids, change and group names, never a field
-- value).
CREATE TABLE source_messages (
	source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	message_id  TEXT NOT NULL CHECK (message_id <> ''),
	received_at INTEGER NOT NULL,
	outcome     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (source_id, message_id)
) STRICT;

CREATE INDEX source_messages_received_idx ON source_messages (source_id, received_at);

-- A time_off.* change event names its request.
ALTER TABLE change_events ADD COLUMN time_off_id TEXT NOT NULL DEFAULT '';
