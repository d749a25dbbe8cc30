-- Sources and the sync engine (docs/sources.md): the systems that bring HR
-- data in, their credentials, the record of each run, and the outbox of
-- change events the runs write. The same logical schema as SQLite's.

CREATE TABLE sources (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id  TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	name        TEXT COLLATE "C" NOT NULL CHECK (name <> ''),
	type        TEXT COLLATE "C" NOT NULL CHECK (type IN ('scim', 'csv', 'webhook')),
	token_hash  BYTEA CHECK (token_hash IS NULL OR length(token_hash) = 32),
	created_at  BIGINT,
	CONSTRAINT sources_pkey PRIMARY KEY (id),
	CHECK ((type = 'scim') = (token_hash IS NOT NULL))
);

CREATE UNIQUE INDEX sources_name_key ON sources (name);
CREATE UNIQUE INDEX sources_hash_key ON sources (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX sources_company_idx ON sources (company_id, name);

CREATE TABLE source_secrets (
	source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	secret      BYTEA NOT NULL CHECK (length(secret) > 0),
	created_at  BIGINT,
	CONSTRAINT source_secrets_pkey PRIMARY KEY (source_id)
);

CREATE TABLE sync_runs (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	kind        TEXT COLLATE "C" NOT NULL DEFAULT '',
	mode        TEXT COLLATE "C" NOT NULL DEFAULT '',
	status      TEXT COLLATE "C" NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
	started_at  BIGINT,
	finished_at BIGINT,
	row_count   BIGINT NOT NULL DEFAULT 0,
	created     BIGINT NOT NULL DEFAULT 0,
	updated     BIGINT NOT NULL DEFAULT 0,
	terminated  BIGINT NOT NULL DEFAULT 0,
	unchanged   BIGINT NOT NULL DEFAULT 0,
	rejected    BIGINT NOT NULL DEFAULT 0,
	problems    TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	error       TEXT COLLATE "C" NOT NULL DEFAULT '',
	CONSTRAINT sync_runs_pkey PRIMARY KEY (id)
);

CREATE INDEX sync_runs_source_idx ON sync_runs (source_id, started_at);

CREATE TABLE change_events (
	seq         BIGINT GENERATED ALWAYS AS IDENTITY,
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	type        TEXT COLLATE "C" NOT NULL CHECK (type <> ''),
	company_id  TEXT COLLATE "C" NOT NULL,
	employee_id TEXT COLLATE "C" NOT NULL,
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	run_id      TEXT COLLATE "C" NOT NULL DEFAULT '',
	group_names TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at  BIGINT,
	CONSTRAINT change_events_pkey PRIMARY KEY (seq)
);

CREATE UNIQUE INDEX change_events_id_key ON change_events (id);
CREATE INDEX change_events_employee_idx ON change_events (employee_id, seq);
