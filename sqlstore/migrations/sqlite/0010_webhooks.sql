-- Outbound webhooks (docs/webhooks.md): the endpoints consumers receive
-- change events at, their signing keys, the deliveries fanned out from the
-- change outbox and every attempt at them.

-- event_types is a comma-separated list of change event types.
-- failing_since is the first failed attempt of the current run of
-- failures, NULL after a success; disabled_at is set while disabled.
CREATE TABLE webhook_endpoints (
	id              TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	consumer_id     TEXT NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	url             TEXT NOT NULL CHECK (url <> ''),
	event_types     TEXT NOT NULL CHECK (event_types <> ''),
	description     TEXT NOT NULL DEFAULT '',
	allow_http      INTEGER NOT NULL DEFAULT 0 CHECK (allow_http IN (0, 1)),
	mode            TEXT NOT NULL CHECK (mode IN ('full', 'thin')),
	disabled_at     INTEGER,
	disabled_reason TEXT NOT NULL DEFAULT '',
	failing_since   INTEGER,
	created_at      INTEGER,
	modified_at     INTEGER
) STRICT;

CREATE INDEX webhook_endpoints_consumer_idx ON webhook_endpoints (consumer_id, created_at);

-- secret is sealed under the keyring's vault key, bound to id
-- (sqlstore/vault.go). expires_at is NULL for the current key; a rotated
-- one signs beside it until then.
CREATE TABLE webhook_secrets (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	secret      BLOB NOT NULL CHECK (length(secret) > 0),
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER
) STRICT;

CREATE INDEX webhook_secrets_endpoint_idx ON webhook_secrets (endpoint_id, created_at);

-- One message per change event and endpoint; a replay is a new message
-- (replay_of names the one replayed). lease_owner and lease_until are set
-- while a worker attempts it. group_names is a comma-separated list.
CREATE TABLE webhook_deliveries (
	id              TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_id        TEXT NOT NULL CHECK (event_id <> ''),
	event_type      TEXT NOT NULL CHECK (event_type <> ''),
	company_id      TEXT NOT NULL,
	employee_id     TEXT NOT NULL,
	group_names     TEXT NOT NULL DEFAULT '',
	event_time      INTEGER,
	replay_of       TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	lease_owner     TEXT NOT NULL DEFAULT '',
	lease_until     INTEGER,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	finished_at     INTEGER
) STRICT;

CREATE UNIQUE INDEX webhook_deliveries_event_key ON webhook_deliveries (endpoint_id, event_id) WHERE replay_of = '';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at, id);

-- Every attempt: time, status code, latency and error class, never the
-- answer's body.
CREATE TABLE webhook_attempts (
	delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL CHECK (attempt > 0),
	at          INTEGER NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	latency_ms  INTEGER NOT NULL DEFAULT 0,
	error_class TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, attempt)
) STRICT;

-- The fan-out cursor: the outbox is read after it. SQLite serialises
-- writers, so seq order is commit order and seq alone is the cursor.
CREATE TABLE webhook_cursor (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	txid INTEGER NOT NULL DEFAULT 0,
	seq  INTEGER NOT NULL DEFAULT 0
) STRICT;

INSERT INTO webhook_cursor (id, txid, seq) VALUES (1, 0, 0);
