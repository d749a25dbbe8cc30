-- On SQLite this version moves data keys into their primary key's B-tree
-- (WITHOUT ROWID). A PostgreSQL table has no rowid to drop: nothing
-- changes here, and the versions of both dialects stay in step.
SELECT 1;
