// Package audit keeps hrgate's audit trail: every request, authentication
// and data access, and every change to consumers and credentials, in a
// log whose tampering is detectable (docs/audit.md).
//
// Events are encoded canonically (encode.go) and appended to a hash chain
// in which each event also carries a MAC under a chain key (chain.go);
// signed checkpoints (checkpoint.go) pin the chain's head so that a copy
// kept elsewhere detects a rewritten or shortened trail. Log appends with
// group commit: Record returns once its event is durable, and concurrent
// callers share one transaction. Verify walks the chain and names the
// first event that fails. Storage is an hrgate.AuditStore (sqlstore).
package audit
