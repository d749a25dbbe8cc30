-- Field encryption (docs/encryption.md).
--
-- Blind indexes: keyed hashes (HMAC-SHA256, 128 bits) of the normalised
-- national id and personal e-mail, so that an employee can be found by
-- them without decrypting anything. bi_version is the index key version
-- they were computed under; rows below the active version are recomputed
-- by the re-index job, rows from before this migration start at 0. No
-- index on bi_version: the job runs only after an index-key rotation (the
-- encryption state records the version every row reached), and an index on
-- it would slow every insert.
ALTER TABLE employees ADD COLUMN bi_national_id BLOB;
ALTER TABLE employees ADD COLUMN bi_personal_email BLOB;
ALTER TABLE employees ADD COLUMN bi_version INTEGER NOT NULL DEFAULT 0;
-- dek_round is the data-key rotation round the row's groups were last
-- re-sealed in; a rotation raises the target and the job re-seals the rows
-- below it.
ALTER TABLE employees ADD COLUMN dek_round INTEGER NOT NULL DEFAULT 0;

CREATE INDEX employees_bi_national_id_idx ON employees (bi_national_id) WHERE bi_national_id IS NOT NULL;
CREATE INDEX employees_bi_personal_email_idx ON employees (bi_personal_email) WHERE bi_personal_email IS NOT NULL;

-- The keyring this data is encrypted under, recorded the first time the
-- store is opened with one: a store is never opened with another. state is
-- sealed by that keyring (which groups must never hold plain text, the
-- data-key rotation round), so that it cannot be changed without it.
CREATE TABLE encryption_state (
	id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	keyring_id  TEXT NOT NULL CHECK (keyring_id <> ''),
	state       BLOB NOT NULL,
	created_at  INTEGER,
	modified_at INTEGER
) STRICT;
