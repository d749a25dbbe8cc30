package hrgate

import (
	"context"
	"time"
)

// Page selects one page of a list ordered by id: the items whose id sorts
// after AfterID, at most Limit of them (0 means no limit; only internal
// callers pass 0).
type Page struct {
	AfterID string
	Limit   int
}

// CompanyFilter selects companies.
type CompanyFilter struct {
	Scope CompanyScope
	ID    string // exact id or slug when set
	Page
}

// EmployeeFilter selects employees and which of their field groups to load.
// A store never loads a group outside Groups: decryption and transfer of
// fields a caller may not see do not happen at all.
type EmployeeFilter struct {
	Scope     CompanyScope
	ID        string
	CompanyID string
	// SourceID, when set, selects the employees that source brought in;
	// RemoteID, with it, the one the source knows by that id.
	SourceID      string
	RemoteID      string
	Status        EmploymentStatus
	ModifiedAfter time.Time // exclusive; zero means no bound
	// NationalID and PersonalEmail, when set, select the employees whose
	// government id value or personal e-mail is this one, compared in
	// normalised form through a blind index: nothing is decrypted to
	// search. Only callers that may read the government_id or contact
	// group may set them (gate.Reader checks).
	NationalID    string
	PersonalEmail string
	Groups        GroupSet
	// ReadOnce marks a scan that reads each employee once, such as a
	// filter evaluated over a whole directory: a store that keeps
	// per-employee decryption state for the reads that follow keeps none
	// for these, so that one scan does not fill its cache.
	ReadOnce bool
	Page
}

// TimeOffFilter selects time-off requests or balances.
type TimeOffFilter struct {
	Scope         CompanyScope
	ID            string
	CompanyID     string
	EmployeeID    string
	ModifiedAfter time.Time
	Page
}

// OrgFilter selects teams or locations.
type OrgFilter struct {
	Scope     CompanyScope
	ID        string
	CompanyID string
	Page
}

// ReadStore reads the unified model. Every method returns the matching
// objects ordered by id, or an EINTERNAL error; an empty result is not an
// error. Objects outside the filter's Scope are never returned.
type ReadStore interface {
	FindCompanies(ctx context.Context, f CompanyFilter) ([]*Company, error)
	FindEmployees(ctx context.Context, f EmployeeFilter) ([]*Employee, error)
	FindTimeOffRequests(ctx context.Context, f TimeOffFilter) ([]*TimeOffRequest, error)
	FindTimeOffBalances(ctx context.Context, f TimeOffFilter) ([]*TimeOffBalance, error)
	FindTeams(ctx context.Context, f OrgFilter) ([]*Team, error)
	FindLocations(ctx context.Context, f OrgFilter) ([]*Location, error)
}

// Batch is a set of objects written in one transaction. Objects are inserted
// in dependency order: companies, teams, locations, employees, time off.
type Batch struct {
	Companies       []*Company
	Teams           []*Team
	Locations       []*Location
	Employees       []*Employee
	TimeOffRequests []*TimeOffRequest
	TimeOffBalances []*TimeOffBalance
}

// Len returns the number of objects in the batch.
func (b *Batch) Len() int {
	return len(b.Companies) + len(b.Teams) + len(b.Locations) + len(b.Employees) +
		len(b.TimeOffRequests) + len(b.TimeOffBalances)
}

// WriteStore writes the unified model.
type WriteStore interface {
	// InsertBatch inserts every object of b in one transaction: all or
	// nothing. A duplicate id, company slug or (source, remote id) is
	// ECONFLICT.
	InsertBatch(ctx context.Context, b *Batch) error
	// Import writes the batches fn passes to put in a single transaction:
	// all of them or, when fn or a put fails, none. Bulk loads use it so
	// that a failure never leaves a half-written company behind.
	Import(ctx context.Context, fn func(put func(*Batch) error) error) error
	// CountEmployees returns the number of employees in scope.
	CountEmployees(ctx context.Context, scope CompanyScope) (int, error)
	// EraseEmployee crypto-shreds an employee: it destroys the
	// employee's data keys, so that no copy of the encrypted field groups
	// can be opened again, then tombstones the record (deleted, every
	// field group and blind index emptied). Its time-off requests and
	// balances, stored in the clear, are hidden and emptied with it. It
	// is idempotent; ENOTFOUND when there is no such employee.
	EraseEmployee(ctx context.Context, id string) error
}

// ConsumerStore persists consumers.
type ConsumerStore interface {
	// CreateConsumer inserts c; a taken name is ECONFLICT.
	CreateConsumer(ctx context.Context, c *Consumer) error
	// UpdateConsumer replaces c's description, scopes and key rotation
	// policy, not its rate limit; ENOTFOUND when gone.
	UpdateConsumer(ctx context.Context, c *Consumer) error
	// SetConsumerRateLimit replaces the consumer's rate limit (and its
	// modification time, unless modifiedAt is zero) and changes the
	// credential epoch in the same transaction; ENOTFOUND when gone,
	// EINVALID for a limit out of bounds.
	SetConsumerRateLimit(ctx context.Context, id string, r RateLimit, modifiedAt time.Time) error
	// FindConsumer returns the consumer with the given id or name, or ENOTFOUND.
	FindConsumer(ctx context.Context, idOrName string) (*Consumer, error)
	// ListConsumers returns every consumer ordered by name.
	ListConsumers(ctx context.Context) ([]*Consumer, error)
	// DeleteConsumer deletes the consumer and every key and OAuth client of
	// it, or ENOTFOUND.
	DeleteConsumer(ctx context.Context, id string) error
}

// KeyStore persists API key records. A store may serve CredentialEpoch
// from memory: it must then reflect its own changes at once and those of
// other processes within a bound it documents.
type KeyStore interface {
	// CreateAPIKey inserts k; ENOTFOUND when its consumer does not exist.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKeyByHash returns the key with the given hash, or ENOTFOUND.
	FindAPIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// FindAPIKey returns the key with the given id, or ENOTFOUND.
	FindAPIKey(ctx context.Context, id string) (*APIKey, error)
	// ListAPIKeys returns the keys of a consumer ("" for all) ordered by
	// creation time.
	ListAPIKeys(ctx context.Context, consumerID string) ([]*APIKey, error)
	// RevokeAPIKey marks the key revoked at the given time, or ENOTFOUND.
	// Revoking a revoked key keeps the first revocation time.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// RotateAPIKey replaces the key oldID by next in one transaction: next
	// is inserted, the old key is marked replaced by it and its expiry
	// moved to oldExpiresAt (never later than it was), and, when delivery
	// is not nil, next's secret is queued for an operator to fetch. A key
	// that was revoked or rotated already is ECONFLICT, so that two
	// servers rotating at once create one successor, not two.
	RotateAPIKey(ctx context.Context, oldID string, next *APIKey, oldExpiresAt time.Time, delivery *KeyDelivery) error
	// TakeKeyDeliveries returns the queued secrets of a consumer's keys
	// ("" for every consumer) and deletes them in the same transaction:
	// each secret is handed out once.
	TakeKeyDeliveries(ctx context.Context, consumerID string) ([]*KeyDelivery, error)
	// PendingKeyDeliveries returns the ids of keys whose secrets wait to
	// be fetched.
	PendingKeyDeliveries(ctx context.Context) (map[string]bool, error)
	// SetAPIKeyRateLimit replaces the key's rate limit and changes the
	// credential epoch in the same transaction; ENOTFOUND when there is
	// no such key, EINVALID for a limit out of bounds.
	SetAPIKeyRateLimit(ctx context.Context, id string, r RateLimit) error
	// TouchAPIKey records the last use of a key.
	TouchAPIKey(ctx context.Context, id string, at time.Time, addr string) error
	// CredentialEpoch returns a counter that changes, in the same
	// transaction, with every key revocation, every change or deletion of
	// a consumer, every change of a key's or client's rate limit and every
	// deletion of an OAuth client; token revocations change
	// TokenStore.RevocationEpoch instead. Authentication caches may serve
	// a credential only while the epoch they read it under is current.
	CredentialEpoch(ctx context.Context) (int64, error)
}

// ClientStore persists OAuth clients.
type ClientStore interface {
	// CreateClient inserts c; ENOTFOUND when its consumer does not exist,
	// ECONFLICT when its id is taken.
	CreateClient(ctx context.Context, c *OAuthClient) error
	// FindClient returns the client with the given id, or ENOTFOUND.
	FindClient(ctx context.Context, id string) (*OAuthClient, error)
	// ListClients returns the clients of a consumer ("" for all) ordered
	// by creation time.
	ListClients(ctx context.Context, consumerID string) ([]*OAuthClient, error)
	// SetClientRateLimit replaces the client's rate limit and changes the
	// credential epoch in the same transaction; ENOTFOUND when there is
	// no such client, EINVALID for a limit out of bounds.
	SetClientRateLimit(ctx context.Context, id string, r RateLimit) error
	// DeleteClient deletes the client and bumps the credential epoch in
	// the same transaction, so that its tokens stop working at once on
	// every instance; ENOTFOUND when there is no such client.
	DeleteClient(ctx context.Context, id string) error
}

// SigningKeyStore persists the keys access tokens are signed with.
type SigningKeyStore interface {
	// SigningKeys returns every stored key ordered by generation.
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// InsertSigningKey adds k; ECONFLICT when its id or generation is
	// taken, which is how an instance learns that another one rotated
	// first.
	InsertSigningKey(ctx context.Context, k *SigningKey) error
	// DeleteSigningKeys deletes the keys that retired before the given
	// time and returns how many it deleted.
	DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) (int, error)
}

// TokenStore keeps the little state that stateless access tokens need:
// revocations and the ids of client assertions already used.
type TokenStore interface {
	// RevokeToken records that the token with id jti, valid until
	// expiresAt, is revoked, and bumps the revocation epoch in the same
	// transaction. Revoking a revoked token is not an error.
	RevokeToken(ctx context.Context, jti string, expiresAt time.Time) error
	// RevocationEpoch returns a counter that changes whenever a token is
	// revoked, apart from CredentialEpoch so that revocations, which any
	// client may make of its own tokens, do not empty the credential
	// caches.
	RevocationEpoch(ctx context.Context) (int64, error)
	// RevokedTokens returns the ids of revoked tokens that have not
	// expired at now.
	RevokedTokens(ctx context.Context, now time.Time) ([]string, error)
	// UseAssertionID records a client assertion id (RFC 7523), kept until
	// expiresAt; ECONFLICT when the id was recorded before, i.e. when the
	// assertion is replayed.
	UseAssertionID(ctx context.Context, id string, expiresAt time.Time) error
	// PurgeTokens deletes the revocations and assertion ids that expired
	// before now.
	PurgeTokens(ctx context.Context, now time.Time) error
}

// SecretStore keeps the server's own secrets (cursor signing key, audit
// chain keys, the admin token's digest), shared by every instance on the
// same database. sqlstore seals each one under the keyring, bound to its
// name, and never stores one in the clear.
type SecretStore interface {
	// Secret returns the secret with the given name, creating it with
	// create when it does not exist yet. Concurrent first calls from
	// several instances agree on one value.
	Secret(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error)
	// FindSecret returns the secret with the given name, or ENOTFOUND.
	FindSecret(ctx context.Context, name string) ([]byte, error)
	// PutSecret stores value under name, replacing the secret of that
	// name, and changes the credential epoch in the same transaction.
	PutSecret(ctx context.Context, name string, value []byte) error
}

// Store is everything hrgate persists. sqlstore implements it on SQLite and
// PostgreSQL.
type Store interface {
	ReadStore
	WriteStore
	ConsumerStore
	KeyStore
	ClientStore
	SigningKeyStore
	TokenStore
	SecretStore
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	Close() error
}
