-- Data keys live in the primary key's B-tree (WITHOUT ROWID): a key is
-- about a hundred bytes, and a rowid table kept them in one B-tree and
-- their (owner, version) key in another, so that every key created cost
-- an insert into each and every key read a look-up in each. An import of
-- 100,000 new employees creates 100,000 keys; a re-import reads them all.
CREATE TABLE keyring_data_keys_new (
	owner       TEXT NOT NULL CHECK (owner <> ''),
	version     INTEGER NOT NULL CHECK (version > 0),
	kek_version INTEGER NOT NULL,
	wrapped     BLOB NOT NULL,
	created_at  INTEGER,
	PRIMARY KEY (owner, version)
) STRICT, WITHOUT ROWID;

INSERT INTO keyring_data_keys_new (owner, version, kek_version, wrapped, created_at)
	SELECT owner, version, kek_version, wrapped, created_at FROM keyring_data_keys;
DROP TABLE keyring_data_keys;
ALTER TABLE keyring_data_keys_new RENAME TO keyring_data_keys;
CREATE INDEX keyring_data_keys_kek_idx ON keyring_data_keys (kek_version, owner, version);
