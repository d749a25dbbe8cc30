-- The initial hrgate schema for SQLite.
--
-- Times are microseconds since the Unix epoch (UTC), NULL for "no time".
-- Tables are STRICT so that a value of the wrong type is an error instead of
-- being stored silently. Text columns are NOT NULL with '' as "no value", the
-- same convention as the domain types.

CREATE TABLE companies (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	slug        TEXT NOT NULL CHECK (slug <> ''),
	name        TEXT NOT NULL DEFAULT '',
	country     TEXT NOT NULL DEFAULT '',
	sandbox     INTEGER NOT NULL DEFAULT 0 CHECK (sandbox IN (0, 1)),
	source_id   TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	created_at  INTEGER,
	modified_at INTEGER,
	deleted_at  INTEGER
) STRICT;

CREATE UNIQUE INDEX companies_slug_key ON companies (slug);
CREATE UNIQUE INDEX companies_source_key ON companies (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE teams (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id  TEXT NOT NULL REFERENCES companies (id),
	source_id   TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	name        TEXT NOT NULL DEFAULT '',
	type        TEXT NOT NULL DEFAULT '',
	parent_id   TEXT NOT NULL DEFAULT '',
	created_at  INTEGER,
	modified_at INTEGER,
	deleted_at  INTEGER
) STRICT;

CREATE INDEX teams_company_idx ON teams (company_id, id);
CREATE UNIQUE INDEX teams_source_key ON teams (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE locations (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id  TEXT NOT NULL REFERENCES companies (id),
	source_id   TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	name        TEXT NOT NULL DEFAULT '',
	type        TEXT NOT NULL DEFAULT '',
	address     TEXT NOT NULL DEFAULT '{}',
	created_at  INTEGER,
	modified_at INTEGER,
	deleted_at  INTEGER
) STRICT;

CREATE INDEX locations_company_idx ON locations (company_id, id);
CREATE UNIQUE INDEX locations_source_key ON locations (source_id, remote_id) WHERE remote_id <> '';

-- Each g_* column holds one field group, encoded as JSON today and as
-- AES-GCM ciphertext once field encryption lands; hence BLOB.
CREATE TABLE employees (
	id                TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id        TEXT NOT NULL REFERENCES companies (id),
	source_id         TEXT NOT NULL DEFAULT '',
	remote_id         TEXT NOT NULL DEFAULT '',
	created_at        INTEGER,
	modified_at       INTEGER,
	deleted_at        INTEGER,
	employment_status TEXT NOT NULL DEFAULT '',
	g_identity        BLOB,
	g_employment      BLOB,
	g_contact         BLOB,
	g_personal        BLOB,
	g_compensation    BLOB,
	g_banking         BLOB,
	g_government_id   BLOB
) STRICT;

-- Unique so that time off can reference (company_id, id): an employee's
-- time off cannot be filed under another company.
CREATE UNIQUE INDEX employees_company_idx ON employees (company_id, id);
CREATE INDEX employees_modified_idx ON employees (modified_at);
CREATE UNIQUE INDEX employees_source_key ON employees (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE time_off_requests (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id  TEXT NOT NULL REFERENCES companies (id),
	employee_id TEXT NOT NULL,
	source_id   TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	type        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT '',
	start_date  TEXT NOT NULL DEFAULT '',
	end_date    TEXT NOT NULL DEFAULT '',
	amount      TEXT NOT NULL DEFAULT '',
	units       TEXT NOT NULL DEFAULT '',
	created_at  INTEGER,
	modified_at INTEGER,
	deleted_at  INTEGER,
	FOREIGN KEY (company_id, employee_id) REFERENCES employees (company_id, id)
) STRICT;

CREATE INDEX time_off_requests_company_idx ON time_off_requests (company_id, id);
CREATE INDEX time_off_requests_employee_idx ON time_off_requests (employee_id);
CREATE UNIQUE INDEX time_off_requests_source_key ON time_off_requests (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE time_off_balances (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	company_id  TEXT NOT NULL REFERENCES companies (id),
	employee_id TEXT NOT NULL,
	source_id   TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	policy_type TEXT NOT NULL DEFAULT '',
	balance     TEXT NOT NULL DEFAULT '',
	used        TEXT NOT NULL DEFAULT '',
	units       TEXT NOT NULL DEFAULT '',
	created_at  INTEGER,
	modified_at INTEGER,
	deleted_at  INTEGER,
	FOREIGN KEY (company_id, employee_id) REFERENCES employees (company_id, id)
) STRICT;

CREATE INDEX time_off_balances_company_idx ON time_off_balances (company_id, id);
CREATE INDEX time_off_balances_employee_idx ON time_off_balances (employee_id);
CREATE UNIQUE INDEX time_off_balances_source_key ON time_off_balances (source_id, remote_id) WHERE remote_id <> '';

CREATE TABLE consumers (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	name        TEXT NOT NULL CHECK (name <> ''),
	description TEXT NOT NULL DEFAULT '',
	scopes      TEXT NOT NULL DEFAULT '[]',
	created_at  INTEGER,
	modified_at INTEGER
) STRICT;

CREATE UNIQUE INDEX consumers_name_key ON consumers (name);

CREATE TABLE api_keys (
	id             TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	consumer_id    TEXT NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	env            TEXT NOT NULL CHECK (env IN ('live', 'test')),
	hash           BLOB NOT NULL CHECK (length(hash) > 0),
	description    TEXT NOT NULL DEFAULT '',
	scopes         TEXT NOT NULL DEFAULT '[]',
	allow_cidrs    TEXT NOT NULL DEFAULT '[]',
	created_at     INTEGER,
	expires_at     INTEGER,
	revoked_at     INTEGER,
	last_used_at   INTEGER,
	last_used_addr TEXT NOT NULL DEFAULT '',
	replaced_by_id TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
CREATE INDEX api_keys_consumer_idx ON api_keys (consumer_id, created_at, id);

CREATE TABLE secrets (
	name       TEXT NOT NULL PRIMARY KEY CHECK (name <> ''),
	value      BLOB NOT NULL,
	created_at INTEGER
) STRICT;

-- credential_epoch changes whenever a key is revoked or a consumer's grant
-- changes or the consumer is deleted, in the same transaction. Servers
-- cache authenticated credentials and check this one row per request, so
-- a revocation made by any process takes effect on the next request.
CREATE TABLE credential_epoch (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
) STRICT;
INSERT INTO credential_epoch (id, value) VALUES (1, 0);
