-- revocation_epoch changes whenever an access token is revoked, in the
-- same transaction. It is apart from credential_epoch because any client
-- may revoke its own tokens as often as it likes, and each credential
-- epoch change makes every instance drop its credential caches.
CREATE TABLE revocation_epoch (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
) STRICT;
INSERT INTO revocation_epoch (id, value) VALUES (1, 0);
