-- Outbound webhooks (docs/webhooks.md): the endpoints consumers receive
-- change events at, their signing keys, the deliveries fanned out from the
-- change outbox and every attempt at them. The same logical schema as
-- SQLite's, plus the transaction id of each outbox event.

CREATE TABLE webhook_endpoints (
	id              TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	consumer_id     TEXT COLLATE "C" NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	url             TEXT COLLATE "C" NOT NULL CHECK (url <> ''),
	event_types     TEXT COLLATE "C" NOT NULL CHECK (event_types <> ''),
	description     TEXT COLLATE "C" NOT NULL DEFAULT '',
	allow_http      BOOLEAN NOT NULL DEFAULT FALSE,
	mode            TEXT COLLATE "C" NOT NULL CHECK (mode IN ('full', 'thin')),
	disabled_at     BIGINT,
	disabled_reason TEXT COLLATE "C" NOT NULL DEFAULT '',
	failing_since   BIGINT,
	created_at      BIGINT,
	modified_at     BIGINT,
	CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
);

CREATE INDEX webhook_endpoints_consumer_idx ON webhook_endpoints (consumer_id, created_at);

CREATE TABLE webhook_secrets (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	secret      BYTEA NOT NULL CHECK (length(secret) > 0),
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT,
	CONSTRAINT webhook_secrets_pkey PRIMARY KEY (id)
);

CREATE INDEX webhook_secrets_endpoint_idx ON webhook_secrets (endpoint_id, created_at);

CREATE TABLE webhook_deliveries (
	id              TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	endpoint_id     TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_id        TEXT COLLATE "C" NOT NULL CHECK (event_id <> ''),
	event_type      TEXT COLLATE "C" NOT NULL CHECK (event_type <> ''),
	company_id      TEXT COLLATE "C" NOT NULL,
	employee_id     TEXT COLLATE "C" NOT NULL,
	group_names     TEXT COLLATE "C" NOT NULL DEFAULT '',
	event_time      BIGINT,
	replay_of       TEXT COLLATE "C" NOT NULL DEFAULT '',
	status          TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	lease_owner     TEXT COLLATE "C" NOT NULL DEFAULT '',
	lease_until     BIGINT,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	finished_at     BIGINT,
	CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX webhook_deliveries_event_key ON webhook_deliveries (endpoint_id, event_id) WHERE replay_of = '';
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at, id);

CREATE TABLE webhook_attempts (
	delivery_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
	attempt     INTEGER NOT NULL CHECK (attempt > 0),
	at          BIGINT NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	latency_ms  BIGINT NOT NULL DEFAULT 0,
	error_class TEXT COLLATE "C" NOT NULL DEFAULT '',
	CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, attempt)
);

-- Two imports committing at once may commit their events out of seq
-- order, so seq alone cannot be the cursor: an event committed late with
-- a lower seq would be skipped. Each event records the id of the
-- transaction that wrote it; the fan-out reads only events of
-- transactions older than every running one (pg_snapshot_xmin), in
-- (txid, seq) order, after the cursor (txid, seq). No transaction that
-- can still commit has a txid below that bound, so nothing committed
-- later sorts before the cursor.
ALTER TABLE change_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX change_events_txid_idx ON change_events (txid, seq);

CREATE TABLE webhook_cursor (
	id   INTEGER NOT NULL CHECK (id = 1),
	txid BIGINT NOT NULL DEFAULT 0,
	seq  BIGINT NOT NULL DEFAULT 0,
	CONSTRAINT webhook_cursor_pkey PRIMARY KEY (id)
);

INSERT INTO webhook_cursor (id, txid, seq) VALUES (1, 0, 0);
