-- SCIM 2.0 (docs/scim.md): what a SCIM source's users carry beyond the
-- unified model. The same logical schema as SQLite's.
CREATE TABLE scim_users (
	employee_id TEXT COLLATE "C" NOT NULL REFERENCES employees (id),
	source_id   TEXT COLLATE "C" NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	user_name   TEXT NOT NULL CHECK (user_name <> ''),
	user_key    TEXT COLLATE "C" NOT NULL CHECK (user_key <> ''),
	deleted_at  BIGINT,
	CONSTRAINT scim_users_pkey PRIMARY KEY (employee_id)
);

CREATE UNIQUE INDEX scim_users_name_key ON scim_users (source_id, user_key) WHERE deleted_at IS NULL;

CREATE INDEX employees_source_idx ON employees (source_id, id);
