-- The key store: hrgate's keyring, kept apart from the data it protects so
-- that destroying a data key here shreds every copy of what it sealed.
-- Nothing here is in the clear: keyring keys are wrapped by the master key
-- (or a KMS), data keys by a key-encryption key. On PostgreSQL the key
-- store shares the data database unless keyring.database names another:
-- then a pg_dump of the data must exclude the keyring_* tables for
-- crypto-shredding to hold against that dump.

CREATE TABLE keyring_meta (
	id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	keyring_id TEXT NOT NULL CHECK (keyring_id <> ''),
	created_at BIGINT
);

CREATE TABLE keyring_keys (
	purpose    TEXT NOT NULL CHECK (purpose IN ('kek', 'index')),
	version    INTEGER NOT NULL CHECK (version > 0),
	wrapped_by TEXT NOT NULL,
	wrapped    BYTEA,
	state      TEXT NOT NULL CHECK (state IN ('active', 'decrypt_only', 'retired')),
	created_at BIGINT,
	retired_at BIGINT,
	PRIMARY KEY (purpose, version),
	CHECK ((state = 'retired') = (wrapped IS NULL))
);

CREATE TABLE keyring_data_keys (
	owner       TEXT NOT NULL CHECK (owner <> ''),
	version     INTEGER NOT NULL CHECK (version > 0),
	kek_version INTEGER NOT NULL,
	wrapped     BYTEA NOT NULL,
	created_at  BIGINT,
	PRIMARY KEY (owner, version)
);

CREATE INDEX keyring_data_keys_kek_idx ON keyring_data_keys (kek_version, owner, version);
