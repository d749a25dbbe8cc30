-- The audit trail for SQLite: a hash chain of events (docs/audit.md).
--
-- body is the event's canonical encoding, the only authoritative copy; the
-- other columns of audit_events, and audit_records, are copies kept for
-- search, which `hrgate audit verify` checks against the bodies. Times are
-- microseconds since the Unix epoch (UTC).

CREATE TABLE audit_events (
	seq           INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
	time          INTEGER NOT NULL,
	type          TEXT NOT NULL,
	consumer_id   TEXT NOT NULL DEFAULT '',
	credential_id TEXT NOT NULL DEFAULT '',
	body          BLOB NOT NULL,
	-- seal is the chain: the previous event's hash, this event's hash and
	-- its MAC, 32 bytes each, in one column because verification reads
	-- every row and each column read costs.
	seal          BLOB NOT NULL CHECK (length(seal) = 96)
) STRICT;

CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_type_idx ON audit_events (type, seq);
CREATE INDEX audit_events_consumer_idx ON audit_events (consumer_id, seq);
CREATE INDEX audit_events_credential_idx ON audit_events (credential_id, seq);

-- The ids of the records an event returned: "who accessed employee X" is
-- an index look-up.
CREATE TABLE audit_records (
	record_id TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	PRIMARY KEY (record_id, seq)
) STRICT, WITHOUT ROWID;

CREATE INDEX audit_records_seq_idx ON audit_records (seq);

-- The newest position of the chain, one row, updated in the transaction
-- that appends: a cut-off tail no longer matches it.
CREATE TABLE audit_head (
	id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	time INTEGER NOT NULL,
	hash BLOB NOT NULL,
	mac  BLOB NOT NULL
) STRICT;

INSERT INTO audit_head (id, seq, time, hash, mac) VALUES (1, 0, 0, x'', x'');

-- Where each SIEM sink stopped.
CREATE TABLE audit_sink_cursors (
	sink       TEXT NOT NULL PRIMARY KEY CHECK (sink <> ''),
	seq        INTEGER NOT NULL CHECK (seq >= 0),
	updated_at INTEGER NOT NULL
) STRICT;

-- Events are never changed or deleted by hrgate. The triggers do not stop
-- someone with write access to the file, who can drop them: the chain is
-- what detects that. They stop mistakes.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
