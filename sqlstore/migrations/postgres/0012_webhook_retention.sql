-- Retention of webhook deliveries (docs/webhooks.md#retention): an
-- original delivery is kept while a replay of it is, so that replaying
-- the event still finds it. Pruning asks, for each old delivery, whether
-- a replay of it is still kept; this index answers without a scan. Only
-- replays are in it, so fanning out, which writes originals, pays nothing.
CREATE INDEX webhook_deliveries_replay_idx ON webhook_deliveries (replay_of) WHERE replay_of <> '';
