package sqlstore

import (
	"context"
	"os"
	"time"

	"github.com/hrgate/hrgate"
)

// ExecForTest runs a statement with ? placeholders on the writer. Tests use
// it to reach states no store method produces, such as soft-deleted rows or
// a schema from a newer release.
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	_, err := db.write.ExecContext(ctx, db.dialect.rebind(query), args...)
	return err
}

// QueryIntForTest returns the single integer a query with ? placeholders
// yields.
func (db *DB) QueryIntForTest(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(query), args...).Scan(&n)
	return n, err
}

// MigrationCountForTest returns the number of embedded migrations of the
// store's dialect, so that tests do not hard-code the schema version.
func (db *DB) MigrationCountForTest() int {
	ms, err := db.schema.migrations(db.dialect)
	if err != nil {
		panic(err)
	}
	return len(ms)
}

// ApplyMigrationsForTest applies the dialect's migrations 1..upTo that the
// database lacks, for tests of what a migration does to existing rows.
func (db *DB) ApplyMigrationsForTest(ctx context.Context, upTo int) error {
	ms, err := db.schema.migrations(db.dialect)
	if err != nil {
		return err
	}
	if _, err := db.write.ExecContext(ctx, db.schema.createTable()); err != nil {
		return err
	}
	for _, m := range ms[:upTo] {
		if _, err := db.apply(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// SetCrashForTest makes the re-encryption jobs and EraseEmployee fail with
// the error fn returns for a step, as if the process died there.
func (db *DB) SetCrashForTest(fn func(step string) error) { db.testCrash = fn }

// QueryBytesForTest returns the single byte string a query with ?
// placeholders yields, nil for NULL.
func (db *DB) QueryBytesForTest(ctx context.Context, query string, args ...any) ([]byte, error) {
	var b []byte
	err := db.write.QueryRowContext(ctx, db.dialect.rebind(query), args...).Scan(&b)
	return b, err
}

// SetJournalTuningForTest sets how often and after how many events the
// audit journal is moved into the database, and how large it may grow,
// until tb ends. Tests that set it do not run in parallel.
func SetJournalTuningForTest(tb interface{ Cleanup(func()) }, every time.Duration, at, max int64) {
	oldEvery, oldAt, oldMax := journalIngestEvery, journalIngestAt, journalMax
	journalIngestEvery, journalIngestAt, journalMax = every, at, max
	tb.Cleanup(func() { journalIngestEvery, journalIngestAt, journalMax = oldEvery, oldAt, oldMax })
}

// SetJournalSyncForTest replaces how the journal is flushed to the disk
// until tb ends. Tests that set it do not run in parallel.
func SetJournalSyncForTest(tb interface{ Cleanup(func()) }, fn func(*os.File) error) {
	old := syncFile
	syncFile = fn
	tb.Cleanup(func() { syncFile = old })
}

// DecodeJournalFrameForTest decodes the payload of one audit journal
// frame, for tests of what a damaged frame may make the decoder do.
func DecodeJournalFrameForTest(payload []byte) error {
	_, err := decodeFrame(payload)
	return err
}

// FinishWebhookAttemptForTest is FinishWebhookAttempts for one outcome,
// returning the result's error (ECONFLICT for a lost lease) as its own.
func (db *DB) FinishWebhookAttemptForTest(ctx context.Context, c *hrgate.WebhookClaim, o *hrgate.WebhookOutcome) error {
	r := &hrgate.WebhookResult{Claim: c, Outcome: o}
	if err := db.FinishWebhookAttempts(ctx, []*hrgate.WebhookResult{r}); err != nil {
		return err
	}
	return r.Err
}

// DBForTest returns the key store's database, for tests of its migrations.
func (s *KeyStore) DBForTest() *DB { return s.db }
