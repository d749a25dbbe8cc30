package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

// A failure to read the audit schema's version fails the journal's start,
// instead of passing for a schema that lacks migrations: that left the
// journal closed and every later append refused with advice to migrate.
func TestStartJournalReturnsReadErrors(t *testing.T) {
	ctx := context.Background()
	l, err := OpenAuditLog(ctx, filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	// Not migrated: no journal yet, and no error.
	if err := l.startJournal(ctx); err != nil || l.journal != nil {
		t.Fatalf("start on an unmigrated trail = %v, journal %v; want nil and none", err, l.journal != nil)
	}
	// Every read of the version fails now.
	if err := l.db.write.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.startJournal(ctx); err == nil {
		t.Fatal("the journal's start passed although the schema version could not be read")
	}
	if l.journal != nil {
		t.Fatal("a journal was opened without the schema version")
	}
}
