package sqlstore_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/keyring"
	"github.com/hrgate/hrgate/sqlstore"
)

// openCounter counts the record openers the store asks its keyring for,
// of each kind.
type openCounter struct {
	sqlstore.FieldCipher
	kept, once atomic.Int64
}

func (c *openCounter) OpenRecord(owner, table, record string) keyring.RecordOpener {
	c.kept.Add(1)
	return c.FieldCipher.OpenRecord(owner, table, record)
}

func (c *openCounter) OpenRecordOnce(owner, table, record string) keyring.RecordOpener {
	c.once.Add(1)
	return c.FieldCipher.OpenRecordOnce(owner, table, record)
}

// TestSyncRecordsOpenOnce: a sync's look-up of stored employees, which an
// import compares with its rows once each, opens them with
// OpenRecordOnce, so that the keyring's cache keeps no AES-GCM instance
// per employee; a read served to a caller opens with OpenRecord, which
// keeps one for the reads that follow. Both read the same employees.
func TestSyncRecordsOpenOnce(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		c := &openCounter{FieldCipher: storetest.Keyring(t, storetest.KeysDSN(dsn))}
		db := openWithCipher(t, dsn, c)
		g := newIDs(93)
		co := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
		src := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "csv", Type: hrgate.SourceCSV, CreatedAt: ts(1)}
		if err := db.CreateSource(ctx, src, nil); err != nil {
			t.Fatal(err)
		}
		emps := make([]*hrgate.Employee, 3)
		remote := make([]string, len(emps))
		want := make(map[string]*hrgate.Employee, len(emps))
		for i := range emps {
			emps[i] = newEmployee(t, g, co, i)
			emps[i].SourceID = src.ID
			remote[i] = emps[i].RemoteID
			want[emps[i].ID] = project(emps[i], hrgate.AllGroups)
		}
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error { return tx.Insert(ctx, emps) }); err != nil {
			t.Fatal(err)
		}

		c.kept.Store(0)
		c.once.Store(0)
		var recs map[string]*hrgate.SyncRecord
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error {
			var err error
			recs, err = tx.Records(ctx, remote)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if kept, once := c.kept.Load(), c.once.Load(); kept != 0 || once != int64(len(emps)) {
			t.Fatalf("Records asked for %d OpenRecord and %d OpenRecordOnce openers; want 0 and %d", kept, once, len(emps))
		}
		if len(recs) != len(emps) {
			t.Fatalf("Records returned %d employees; want %d", len(recs), len(emps))
		}
		for _, r := range recs {
			if r.Erased || !reflect.DeepEqual(r.Employee, want[r.Employee.ID]) {
				t.Fatalf("Records read %+v; want %+v", r.Employee, want[r.Employee.ID])
			}
		}

		got, err := db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
		if err != nil {
			t.Fatal(err)
		}
		if kept, once := c.kept.Load(), c.once.Load(); kept != int64(len(emps)) || once != int64(len(emps)) {
			t.Fatalf("FindEmployees asked for %d OpenRecord and %d more OpenRecordOnce openers; want %d and 0", kept, once-int64(len(emps)), len(emps))
		}
		if len(got) != len(emps) {
			t.Fatalf("FindEmployees returned %d employees; want %d", len(got), len(emps))
		}
		for _, e := range got {
			if !reflect.DeepEqual(e, want[e.ID]) {
				t.Fatalf("FindEmployees read %+v; want %+v", e, want[e.ID])
			}
		}

		// A scan marked ReadOnce (a SCIM filter over the directory) opens
		// as a sync does.
		c.kept.Store(0)
		c.once.Store(0)
		got, err = db.FindEmployees(ctx, hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups, ReadOnce: true})
		if err != nil || len(got) != len(emps) {
			t.Fatalf("FindEmployees ReadOnce = %d employees, %v; want %d", len(got), err, len(emps))
		}
		if kept, once := c.kept.Load(), c.once.Load(); kept != 0 || once != int64(len(emps)) {
			t.Fatalf("FindEmployees ReadOnce asked for %d OpenRecord and %d OpenRecordOnce openers; want 0 and %d", kept, once, len(emps))
		}
		for _, e := range got {
			if !reflect.DeepEqual(e, want[e.ID]) {
				t.Fatalf("FindEmployees ReadOnce read %+v; want %+v", e, want[e.ID])
			}
		}
	})
}

// TestReencryptOpensOnce: the jobs that read every row once (re-index,
// data-key rotation) open with OpenRecordOnce, and the rows still read
// back whole after.
func TestReencryptOpensOnce(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		kr := storetest.Keyring(t, storetest.KeysDSN(dsn))
		c := &openCounter{FieldCipher: kr}
		db := openWithCipher(t, dsn, c)
		es := staff(t, db, 94, 4)
		if _, err := kr.Rotate(ctx, hrgate.PurposeIndex); err != nil {
			t.Fatal(err)
		}
		if _, err := db.StartDataKeyRotation(ctx); err != nil {
			t.Fatal(err)
		}
		c.kept.Store(0)
		c.once.Store(0)
		res, err := db.Reencrypt(ctx, 0)
		if err != nil || res.Reindexed != len(es) || res.Rotated != len(es) || res.Skipped != 0 {
			t.Fatalf("Reencrypt = %+v, %v", res, err)
		}
		if kept, once := c.kept.Load(), c.once.Load(); kept != 0 || once != int64(2*len(es)) {
			t.Fatalf("Reencrypt asked for %d OpenRecord and %d OpenRecordOnce openers; want 0 and %d", kept, once, 2*len(es))
		}
		mustReadAll(t, db, es)
	})
}

// TestRecordsPrefetchesKeysInChunks: a large look-up (an import's batch)
// of employees whose data keys are not cached loads the keys in chunks of
// prefetchChunk while it reads the rows, the last partial chunk included:
// not one key-store query per employee.
func TestRecordsPrefetchesKeysInChunks(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(95)
		co := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
		src := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "csv", Type: hrgate.SourceCSV, CreatedAt: ts(1)}
		if err := db.CreateSource(ctx, src, nil); err != nil {
			t.Fatal(err)
		}
		const n = 300 // two full chunks of 128 and a partial one
		emps := make([]*hrgate.Employee, n)
		remote := make([]string, n)
		for i := range emps {
			emps[i] = newEmployee(t, g, co, i)
			emps[i].SourceID = src.ID
			remote[i] = emps[i].RemoteID
		}
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error { return tx.Insert(ctx, emps) }); err != nil {
			t.Fatal(err)
		}

		// A second handle on the same data has none of the keys cached.
		ks := &dataKeyReads{KeyringStore: storetest.OpenKeyStore(t, storetest.KeysDSN(dsn))}
		p, err := keyring.NewLocalProvider(storetest.MasterKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.Open(ctx, ks, p, keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cold := openWithCipher(t, dsn, kr)
		ks.reads.Store(0) // opening read the vault's key
		var recs map[string]*hrgate.SyncRecord
		if err := cold.Sync(ctx, src, func(tx hrgate.SyncTx) error {
			var err error
			recs, err = tx.Records(ctx, remote)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(recs) != n {
			t.Fatalf("Records returned %d employees; want %d", len(recs), n)
		}
		for _, e := range emps {
			if r := recs[e.RemoteID]; r == nil || r.Employee.Identity.WorkEmail != e.Identity.WorkEmail {
				t.Fatalf("Records read %+v for %s", r, e.RemoteID)
			}
		}
		// One query per chunk: one query for all (no prefetcher) or one
		// per employee both fail.
		if reads, want := ks.reads.Load(), int64((n+127)/128); reads != want {
			t.Fatalf("%d employees read their data keys in %d key-store queries; want %d, one per chunk of 128", n, reads, want)
		}
	})
}
