-- The least rate a limit may set, one request a day (limits.MinRate, which
-- limits.Limit.Validate and gate.CheckRateLimit enforce), was missing from
-- the CHECKs of 0005: a slower rate was stored, and every request of that
-- credential or consumer then found a limit the limiter cannot apply.
--
-- Such a limit never applied: the server fell back to the configured
-- defaults, for the whole limit. The rows keep that outcome, now stored:
-- their limit returns to the defaults.
UPDATE consumers SET limit_rate = 0, limit_burst = 0, limit_quota = 0 WHERE limit_rate > 0 AND limit_rate < 1.0 / 86400;
UPDATE api_keys SET limit_rate = 0, limit_burst = 0, limit_quota = 0 WHERE limit_rate > 0 AND limit_rate < 1.0 / 86400;
UPDATE oauth_clients SET limit_rate = 0, limit_burst = 0, limit_quota = 0 WHERE limit_rate > 0 AND limit_rate < 1.0 / 86400;

-- SQLite adds a CHECK only by rebuilding the table, and consumers, api_keys
-- and oauth_clients are referenced ON DELETE CASCADE: dropping the old
-- table inside the migration's transaction, with foreign keys on, would
-- delete the rows that reference it. Triggers hold the bound instead. The
-- store refuses such a rate itself first (EINVALID); these stop a writer
-- that goes around it.
CREATE TRIGGER consumers_limit_rate_min_insert BEFORE INSERT ON consumers
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;
CREATE TRIGGER consumers_limit_rate_min_update BEFORE UPDATE OF limit_rate ON consumers
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;

CREATE TRIGGER api_keys_limit_rate_min_insert BEFORE INSERT ON api_keys
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;
CREATE TRIGGER api_keys_limit_rate_min_update BEFORE UPDATE OF limit_rate ON api_keys
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;

CREATE TRIGGER oauth_clients_limit_rate_min_insert BEFORE INSERT ON oauth_clients
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;
CREATE TRIGGER oauth_clients_limit_rate_min_update BEFORE UPDATE OF limit_rate ON oauth_clients
WHEN NEW.limit_rate > 0 AND NEW.limit_rate < 1.0 / 86400
BEGIN SELECT RAISE(ABORT, 'limit_rate is below one request a day'); END;
