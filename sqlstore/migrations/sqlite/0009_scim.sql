-- SCIM 2.0 (docs/scim.md): what a SCIM source's users carry beyond the
-- unified model. user_name is the SCIM userName as the source sent it;
-- user_key its lower-case form, unique among the source's users that are
-- not deleted (userName is case-insensitive, RFC 7643 §4.1.1). A deleted
-- user keeps its row, with deleted_at set, so that it answers 404; erasing
-- the employee deletes the row.
CREATE TABLE scim_users (
	employee_id TEXT NOT NULL PRIMARY KEY REFERENCES employees (id),
	source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
	user_name   TEXT NOT NULL CHECK (user_name <> ''),
	user_key    TEXT NOT NULL CHECK (user_key <> ''),
	deleted_at  INTEGER
) STRICT;

CREATE UNIQUE INDEX scim_users_name_key ON scim_users (source_id, user_key) WHERE deleted_at IS NULL;

-- A source's employees in id order: SCIM lists and pages them.
CREATE INDEX employees_source_idx ON employees (source_id, id);
