-- PLACEHOLDER, to be dropped at merge: version 5 is taken by a migration
-- written in parallel on another branch. Migrations must be numbered
-- without gaps, so this empty one holds the place for 0006_sources on this
-- branch only.
SELECT 1;
