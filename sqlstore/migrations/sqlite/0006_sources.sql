-- Sources and the sync engine (docs/sources.md): the systems that bring HR
-- data in, their credentials, the record of each run, and the outbox of
-- change events the runs write.

-- A source belongs to one company. A SCIM source's token is kept as its
-- SHA-256 only; a webhook source's signing key in source_secrets, sealed.
CREATE TABLE sources (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id  TEXT NOT NULL REFERENCES companies (id),
	name        TEXT NOT NULL CHECK (name <> ''),
	type        TEXT NOT NULL CHECK (type IN ('scim', 'csv', 'webhook')),
	token_hash  BLOB CHECK (token_hash IS NULL OR length(token_hash) = 32),
	created_at  INTEGER,
	CHECK ((type = 'scim') = (token_hash IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX sources_name_key ON sources (name);
CREATE UNIQUE INDEX sources_hash_key ON sources (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX sources_company_idx ON sources (company_id, name);

-- secret is sealed under the keyring's vault key, bound to source_id
-- (sqlstore/vault.go); a plain value is only ever found in a test store.
CREATE TABLE source_secrets (
	source_id   TEXT NOT NULL PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
	secret      BLOB NOT NULL CHECK (length(secret) > 0),
	created_at  INTEGER
) STRICT;

-- One row per run of the sync engine. problems is a JSON array of
-- {row, column, message}; it never holds an input value.
CREATE TABLE sync_runs (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	kind        TEXT NOT NULL DEFAULT '',
	mode        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
	started_at  INTEGER,
	finished_at INTEGER,
	row_count   INTEGER NOT NULL DEFAULT 0,
	created     INTEGER NOT NULL DEFAULT 0,
	updated     INTEGER NOT NULL DEFAULT 0,
	terminated  INTEGER NOT NULL DEFAULT 0,
	unchanged   INTEGER NOT NULL DEFAULT 0,
	rejected    INTEGER NOT NULL DEFAULT 0,
	problems    TEXT NOT NULL DEFAULT '[]',
	error       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sync_runs_source_idx ON sync_runs (source_id, started_at);

-- The outbox: written in the transaction of the change it describes, read
-- in seq order by what delivers changes (webhooks, exports). It outlives
-- the source that wrote it, so no foreign key. group_names is a comma-separated
-- list of field group names; no event holds a field value.
CREATE TABLE change_events (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL CHECK (id <> ''),
	type        TEXT NOT NULL CHECK (type <> ''),
	company_id  TEXT NOT NULL,
	employee_id TEXT NOT NULL,
	source_id   TEXT NOT NULL DEFAULT '',
	run_id      TEXT NOT NULL DEFAULT '',
	group_names TEXT NOT NULL DEFAULT '',
	created_at  INTEGER
) STRICT;

CREATE UNIQUE INDEX change_events_id_key ON change_events (id);
CREATE INDEX change_events_employee_idx ON change_events (employee_id, seq);
