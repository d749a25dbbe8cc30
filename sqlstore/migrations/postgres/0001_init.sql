-- The initial hrgate schema for PostgreSQL. It is the same logical schema as
-- the SQLite one; constraint and index names are shared because error
-- translation derives the conflicting key from them.
--
-- Times are microseconds since the Unix epoch (UTC), NULL for "no time".
-- Text columns are NOT NULL with '' as "no value", the same convention as the
-- domain types, and use the "C" collation so that ORDER BY id, keyset
-- pagination (id > $1) and ORDER BY name compare bytes exactly as SQLite does,
-- whatever the database's default locale.

CREATE TABLE companies (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	slug        TEXT COLLATE "C" NOT NULL CHECK (slug <> ''),
	name        TEXT COLLATE "C" NOT NULL DEFAULT '',
	country     TEXT COLLATE "C" NOT NULL DEFAULT '',
	sandbox     BOOLEAN NOT NULL DEFAULT FALSE,
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at  BIGINT,
	modified_at BIGINT,
	deleted_at  BIGINT,
	CONSTRAINT companies_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX companies_slug_key ON companies (slug);
CREATE UNIQUE INDEX companies_source_key ON companies (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE teams (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id  TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	name        TEXT COLLATE "C" NOT NULL DEFAULT '',
	type        TEXT COLLATE "C" NOT NULL DEFAULT '',
	parent_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at  BIGINT,
	modified_at BIGINT,
	deleted_at  BIGINT,
	CONSTRAINT teams_pkey PRIMARY KEY (id)
);

CREATE INDEX teams_company_idx ON teams (company_id, id);
CREATE UNIQUE INDEX teams_source_key ON teams (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE locations (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id  TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	name        TEXT COLLATE "C" NOT NULL DEFAULT '',
	type        TEXT COLLATE "C" NOT NULL DEFAULT '',
	address     TEXT COLLATE "C" NOT NULL DEFAULT '{}',
	created_at  BIGINT,
	modified_at BIGINT,
	deleted_at  BIGINT,
	CONSTRAINT locations_pkey PRIMARY KEY (id)
);

CREATE INDEX locations_company_idx ON locations (company_id, id);
CREATE UNIQUE INDEX locations_source_key ON locations (source_id, remote_id) WHERE remote_id <> '';

-- Each g_* column holds one field group, encoded as JSON today and as
-- AES-GCM ciphertext once field encryption lands; hence BYTEA.
CREATE TABLE employees (
	id                TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id        TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	source_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id         TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at        BIGINT,
	modified_at       BIGINT,
	deleted_at        BIGINT,
	employment_status TEXT COLLATE "C" NOT NULL DEFAULT '',
	g_identity        BYTEA,
	g_employment      BYTEA,
	g_contact         BYTEA,
	g_personal        BYTEA,
	g_compensation    BYTEA,
	g_banking         BYTEA,
	g_government_id   BYTEA,
	CONSTRAINT employees_pkey PRIMARY KEY (id)
);

-- Unique so that time off can reference (company_id, id): an employee's
-- time off cannot be filed under another company.
CREATE UNIQUE INDEX employees_company_idx ON employees (company_id, id);
CREATE INDEX employees_modified_idx ON employees (modified_at);
CREATE UNIQUE INDEX employees_source_key ON employees (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE time_off_requests (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id  TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	employee_id TEXT COLLATE "C" NOT NULL,
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	type        TEXT COLLATE "C" NOT NULL DEFAULT '',
	status      TEXT COLLATE "C" NOT NULL DEFAULT '',
	start_date  TEXT COLLATE "C" NOT NULL DEFAULT '',
	end_date    TEXT COLLATE "C" NOT NULL DEFAULT '',
	amount      TEXT COLLATE "C" NOT NULL DEFAULT '',
	units       TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at  BIGINT,
	modified_at BIGINT,
	deleted_at  BIGINT,
	CONSTRAINT time_off_requests_pkey PRIMARY KEY (id),
	FOREIGN KEY (company_id, employee_id) REFERENCES employees (company_id, id)
);

CREATE INDEX time_off_requests_company_idx ON time_off_requests (company_id, id);
CREATE INDEX time_off_requests_employee_idx ON time_off_requests (employee_id);
CREATE UNIQUE INDEX time_off_requests_source_key ON time_off_requests (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE time_off_balances (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	company_id  TEXT COLLATE "C" NOT NULL REFERENCES companies (id),
	employee_id TEXT COLLATE "C" NOT NULL,
	source_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	remote_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
	policy_type TEXT COLLATE "C" NOT NULL DEFAULT '',
	balance     TEXT COLLATE "C" NOT NULL DEFAULT '',
	used        TEXT COLLATE "C" NOT NULL DEFAULT '',
	units       TEXT COLLATE "C" NOT NULL DEFAULT '',
	created_at  BIGINT,
	modified_at BIGINT,
	deleted_at  BIGINT,
	CONSTRAINT time_off_balances_pkey PRIMARY KEY (id),
	FOREIGN KEY (company_id, employee_id) REFERENCES employees (company_id, id)
);

CREATE INDEX time_off_balances_company_idx ON time_off_balances (company_id, id);
CREATE INDEX time_off_balances_employee_idx ON time_off_balances (employee_id);
CREATE UNIQUE INDEX time_off_balances_source_key ON time_off_balances (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE consumers (
	id          TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	name        TEXT COLLATE "C" NOT NULL CHECK (name <> ''),
	description TEXT COLLATE "C" NOT NULL DEFAULT '',
	scopes      TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	created_at  BIGINT,
	modified_at BIGINT,
	CONSTRAINT consumers_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX consumers_name_key ON consumers (name);

CREATE TABLE api_keys (
	id             TEXT COLLATE "C" NOT NULL CHECK (id <> ''),
	consumer_id    TEXT COLLATE "C" NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	env            TEXT COLLATE "C" NOT NULL CHECK (env IN ('live', 'test')),
	hash           BYTEA NOT NULL CHECK (length(hash) > 0),
	description    TEXT COLLATE "C" NOT NULL DEFAULT '',
	scopes         TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	allow_cidrs    TEXT COLLATE "C" NOT NULL DEFAULT '[]',
	created_at     BIGINT,
	expires_at     BIGINT,
	revoked_at     BIGINT,
	last_used_at   BIGINT,
	last_used_addr TEXT COLLATE "C" NOT NULL DEFAULT '',
	replaced_by_id TEXT COLLATE "C" NOT NULL DEFAULT '',
	CONSTRAINT api_keys_pkey PRIMARY KEY (id)
);

CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_consumer_idx ON api_keys (consumer_id, created_at, id);

CREATE TABLE secrets (
	name       TEXT COLLATE "C" NOT NULL CHECK (name <> ''),
	value      BYTEA NOT NULL,
	created_at BIGINT,
	CONSTRAINT secrets_pkey PRIMARY KEY (name)
);

-- credential_epoch changes whenever a key is revoked or a consumer's grant
-- changes or the consumer is deleted, in the same transaction. Servers
-- cache authenticated credentials and check this one row per request, so
-- a revocation made by any instance takes effect on the next request.
CREATE TABLE credential_epoch (
	id    INTEGER NOT NULL CHECK (id = 1),
	value BIGINT NOT NULL,
	CONSTRAINT credential_epoch_pkey PRIMARY KEY (id)
);
INSERT INTO credential_epoch (id, value) VALUES (1, 0);
