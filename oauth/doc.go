// Package oauth issues and verifies hrgate's OAuth 2.0 access tokens: JWTs
// in the RFC 9068 profile (typ "at+jwt"), signed with EdDSA or ES256 keys
// that rotate on a schedule, and verifies the client assertions of
// private_key_jwt clients (RFC 7523). It knows nothing of consumers or
// grants: package gate decides who gets a token and what it may do.
//
// Verification trusts nothing in a token's header beyond the key id: the
// algorithm is pinned to the one the named key was made for, the type
// must be at+jwt, and any other header (an embedded jwk, jku, x5c, crit)
// is refused. Time, randomness and the key store are injected, so that
// rotation and expiry are tested without sleeping.
package oauth
