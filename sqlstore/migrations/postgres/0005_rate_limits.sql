-- Rate limits and daily quotas of one credential (API key, OAuth client) or
-- one consumer: a rate in requests per second with its burst, and requests
-- per UTC day. Zero means "the configured default" (limits.credential,
-- limits.consumer), so existing rows keep the defaults. The bounds are
-- those limits.Limit.Validate enforces; a burst without a rate would be
-- one the limiter cannot apply, so the CHECK refuses it here as well.
-- DOUBLE PRECISION, not REAL (float4 in PostgreSQL): a rate such as 50/m
-- must come back as the float64 it was written as. NaN compares greater
-- than every number in PostgreSQL, so the upper bound refuses it.
ALTER TABLE consumers
	ADD COLUMN limit_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
	ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN limit_quota BIGINT NOT NULL DEFAULT 0,
	ADD CONSTRAINT consumers_limit_check CHECK (
		limit_rate >= 0 AND limit_rate <= 1000000
		AND limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0)
		AND limit_quota >= 0 AND limit_quota <= 1000000000000);

ALTER TABLE api_keys
	ADD COLUMN limit_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
	ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN limit_quota BIGINT NOT NULL DEFAULT 0,
	ADD CONSTRAINT api_keys_limit_check CHECK (
		limit_rate >= 0 AND limit_rate <= 1000000
		AND limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0)
		AND limit_quota >= 0 AND limit_quota <= 1000000000000);

ALTER TABLE oauth_clients
	ADD COLUMN limit_rate DOUBLE PRECISION NOT NULL DEFAULT 0,
	ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN limit_quota BIGINT NOT NULL DEFAULT 0,
	ADD CONSTRAINT oauth_clients_limit_check CHECK (
		limit_rate >= 0 AND limit_rate <= 1000000
		AND limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0)
		AND limit_quota >= 0 AND limit_quota <= 1000000000000);
