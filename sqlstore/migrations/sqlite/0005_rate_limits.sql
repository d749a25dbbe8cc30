-- Rate limits and daily quotas of one credential (API key, OAuth client) or
-- one consumer: a rate in requests per second with its burst, and requests
-- per UTC day. Zero means "the configured default" (limits.credential,
-- limits.consumer), so existing rows keep the defaults. The bounds are
-- those limits.Limit.Validate enforces; a burst without a rate would be
-- one the limiter cannot apply, so the CHECK refuses it here as well.
ALTER TABLE consumers ADD COLUMN limit_rate REAL NOT NULL DEFAULT 0
	CHECK (limit_rate >= 0 AND limit_rate <= 1000000);
ALTER TABLE consumers ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0
	CHECK (limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0));
ALTER TABLE consumers ADD COLUMN limit_quota INTEGER NOT NULL DEFAULT 0
	CHECK (limit_quota >= 0 AND limit_quota <= 1000000000000);

ALTER TABLE api_keys ADD COLUMN limit_rate REAL NOT NULL DEFAULT 0
	CHECK (limit_rate >= 0 AND limit_rate <= 1000000);
ALTER TABLE api_keys ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0
	CHECK (limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0));
ALTER TABLE api_keys ADD COLUMN limit_quota INTEGER NOT NULL DEFAULT 0
	CHECK (limit_quota >= 0 AND limit_quota <= 1000000000000);

ALTER TABLE oauth_clients ADD COLUMN limit_rate REAL NOT NULL DEFAULT 0
	CHECK (limit_rate >= 0 AND limit_rate <= 1000000);
ALTER TABLE oauth_clients ADD COLUMN limit_burst INTEGER NOT NULL DEFAULT 0
	CHECK (limit_burst >= 0 AND limit_burst <= 1000000 AND (limit_burst = 0 OR limit_rate > 0));
ALTER TABLE oauth_clients ADD COLUMN limit_quota INTEGER NOT NULL DEFAULT 0
	CHECK (limit_quota >= 0 AND limit_quota <= 1000000000000);
