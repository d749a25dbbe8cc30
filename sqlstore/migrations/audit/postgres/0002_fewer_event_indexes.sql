-- Fewer index entries per audit event: moving an event from the journal
-- into the tables cost about 20 µs of CPU, most of it one B-tree insert
-- per index (docs/audit.md#storage).
--
-- A time range needs no index of its own: appends never go back in time
-- (audit.Log gives a late event its predecessor's time, and the store
-- refuses rows that would go back), so time rises with seq and
-- FindAuditRows turns a time range into a range of seq by a binary search
-- over the primary key.
DROP INDEX audit_events_time_idx;

-- api.request is most events, and a search for it pages through the
-- trail by seq anyway: it matches most of what it reads. Every other type
-- is rare, and keeps its index.
DROP INDEX audit_events_type_idx;
CREATE INDEX audit_events_type_idx ON audit_events (type, seq) WHERE type <> 'api.request';
