-- OAuth 2.0 client credentials: clients, token signing keys, revoked
-- tokens and used client assertions.

-- A client has either a secret hash (client_secret) or a registered public
-- JWK (private_key_jwt), never both: the CHECK keeps a client from silently
-- accepting a second way in.
CREATE TABLE oauth_clients (
	id          TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	consumer_id TEXT NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
	description TEXT NOT NULL DEFAULT '',
	auth_method TEXT NOT NULL CHECK (auth_method IN ('client_secret', 'private_key_jwt')),
	secret_hash BLOB,
	public_jwk  TEXT NOT NULL DEFAULT '',
	scopes      TEXT NOT NULL DEFAULT '[]',
	allow_cidrs TEXT NOT NULL DEFAULT '[]',
	created_at  INTEGER,
	CHECK ((auth_method = 'client_secret' AND secret_hash IS NOT NULL AND length(secret_hash) = 32 AND public_jwk = '')
		OR (auth_method = 'private_key_jwt' AND secret_hash IS NULL AND public_jwk <> ''))
) STRICT;

CREATE INDEX oauth_clients_consumer_idx ON oauth_clients (consumer_id, created_at, id);

-- private_key is PKCS #8 DER and the only column holding private key
-- material; field encryption will seal it in place.
CREATE TABLE oauth_signing_keys (
	id           TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	generation   INTEGER NOT NULL CHECK (generation > 0),
	algorithm    TEXT NOT NULL CHECK (algorithm IN ('EdDSA', 'ES256')),
	private_key  BLOB NOT NULL CHECK (length(private_key) > 0),
	created_at   INTEGER NOT NULL,
	activates_at INTEGER NOT NULL,
	retires_at   INTEGER NOT NULL,
	CHECK (activates_at < retires_at)
) STRICT;

CREATE UNIQUE INDEX oauth_signing_keys_generation_key ON oauth_signing_keys (generation);

CREATE TABLE oauth_revoked_tokens (
	jti        TEXT NOT NULL PRIMARY KEY CHECK (jti <> ''),
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_revoked_tokens_expires_idx ON oauth_revoked_tokens (expires_at);

CREATE TABLE oauth_used_assertions (
	id         TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
	expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_used_assertions_expires_idx ON oauth_used_assertions (expires_at);
