-- The audit trail for PostgreSQL: a hash chain of events (docs/audit.md).
--
-- body is the event's canonical encoding, the only authoritative copy; the
-- other columns of audit_events, and audit_records, are copies kept for
-- search, which `hrgate audit verify` checks against the bodies. Times are
-- microseconds since the Unix epoch (UTC).

CREATE TABLE audit_events (
	seq           BIGINT NOT NULL PRIMARY KEY CHECK (seq > 0),
	time          BIGINT NOT NULL,
	type          TEXT NOT NULL,
	consumer_id   TEXT NOT NULL DEFAULT '',
	credential_id TEXT NOT NULL DEFAULT '',
	body          BYTEA NOT NULL,
	-- seal is the chain: the previous event's hash, this event's hash and
	-- its MAC, 32 bytes each, in one column because verification reads
	-- every row and each column read costs.
	seal          BYTEA NOT NULL CHECK (length(seal) = 96)
);

CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_type_idx ON audit_events (type, seq);
CREATE INDEX audit_events_consumer_idx ON audit_events (consumer_id, seq);
CREATE INDEX audit_events_credential_idx ON audit_events (credential_id, seq);

-- The ids of the records an event returned: "who accessed employee X" is
-- an index look-up.
CREATE TABLE audit_records (
	record_id TEXT NOT NULL,
	seq       BIGINT NOT NULL,
	PRIMARY KEY (record_id, seq)
);

CREATE INDEX audit_records_seq_idx ON audit_records (seq);

-- The newest position of the chain, one row. Every append locks it (FOR
-- UPDATE), so that appends of several instances form one chain, and
-- updates it, so that a cut-off tail no longer matches it.
CREATE TABLE audit_head (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	time BIGINT NOT NULL,
	hash BYTEA NOT NULL,
	mac  BYTEA NOT NULL
);

INSERT INTO audit_head (id, seq, time, hash, mac) VALUES (1, 0, 0, '\x', '\x');

-- Where each SIEM sink stopped.
CREATE TABLE audit_sink_cursors (
	sink       TEXT NOT NULL PRIMARY KEY CHECK (sink <> ''),
	seq        BIGINT NOT NULL CHECK (seq >= 0),
	updated_at BIGINT NOT NULL
);

-- Events are never changed or deleted by hrgate. The triggers do not stop
-- a database owner, who can drop them: the chain is what detects that.
-- They stop mistakes.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit events are append-only';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
