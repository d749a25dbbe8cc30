-- The least rate a limit may set, one request a day (limits.MinRate, which
-- limits.Limit.Validate and gate.CheckRateLimit enforce), was missing from
-- the CHECKs of 0005: a slower rate was stored, and every request of that
-- credential or consumer then found a limit the limiter cannot apply.
--
-- Such a limit never applied: the server fell back to the configured
-- defaults, for the whole limit. The rows keep that outcome, now stored:
-- their limit returns to the defaults.
--
-- The bound is computed in DOUBLE PRECISION, as Go computes MinRate: a
-- NUMERIC 1.0 / 86400 is rounded to decimal digits first and may land on
-- another float than the one the store is given.
UPDATE consumers SET limit_rate = 0, limit_burst = 0, limit_quota = 0
	WHERE limit_rate > 0 AND limit_rate < CAST(1 AS DOUBLE PRECISION) / 86400;
UPDATE api_keys SET limit_rate = 0, limit_burst = 0, limit_quota = 0
	WHERE limit_rate > 0 AND limit_rate < CAST(1 AS DOUBLE PRECISION) / 86400;
UPDATE oauth_clients SET limit_rate = 0, limit_burst = 0, limit_quota = 0
	WHERE limit_rate > 0 AND limit_rate < CAST(1 AS DOUBLE PRECISION) / 86400;

ALTER TABLE consumers ADD CONSTRAINT consumers_limit_rate_min_check
	CHECK (limit_rate = 0 OR limit_rate >= CAST(1 AS DOUBLE PRECISION) / 86400);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_limit_rate_min_check
	CHECK (limit_rate = 0 OR limit_rate >= CAST(1 AS DOUBLE PRECISION) / 86400);
ALTER TABLE oauth_clients ADD CONSTRAINT oauth_clients_limit_rate_min_check
	CHECK (limit_rate = 0 OR limit_rate >= CAST(1 AS DOUBLE PRECISION) / 86400);
