package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
)

func TestSources(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(41)
		co := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})

		tok, err := hrgate.GenerateSourceToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		scim := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "entra", Type: hrgate.SourceSCIM,
			TokenHash: hrgate.HashSourceToken(tok), CreatedAt: ts(1)}
		if err := db.CreateSource(ctx, scim, nil); err != nil {
			t.Fatal(err)
		}
		key, _, err := hrgate.GenerateWebhookSecret(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		hook := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "hibob", Type: hrgate.SourceWebhook, CreatedAt: ts(2)}
		if err := db.CreateSource(ctx, hook, key); err != nil {
			t.Fatal(err)
		}
		csv := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "payroll-csv", Type: hrgate.SourceCSV, CreatedAt: ts(3)}
		if err := db.CreateSource(ctx, csv, nil); err != nil {
			t.Fatal(err)
		}

		t.Run("ErrConflictName", func(t *testing.T) {
			dup := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "entra", Type: hrgate.SourceCSV}
			wantCode(t, db.CreateSource(ctx, dup, nil), hrgate.ECONFLICT)
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			noCompany := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: "com_missing", Name: "x", Type: hrgate.SourceCSV}
			wantCode(t, db.CreateSource(ctx, noCompany, nil), hrgate.EINVALID)
			csvWithSecret := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "y", Type: hrgate.SourceCSV}
			wantCode(t, db.CreateSource(ctx, csvWithSecret, key), hrgate.EINVALID)
			scimWithoutToken := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "z", Type: hrgate.SourceSCIM}
			wantCode(t, db.CreateSource(ctx, scimWithoutToken, nil), hrgate.EINVALID)
		})
		t.Run("Find", func(t *testing.T) {
			for _, ref := range []string{scim.ID, "entra"} {
				got, err := db.FindSource(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != scim.ID || got.Type != hrgate.SourceSCIM || !bytes.Equal(got.TokenHash, scim.TokenHash) || got.HasSecret {
					t.Errorf("FindSource(%q) = %+v", ref, got)
				}
			}
			got, err := db.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(tok))
			if err != nil || got.ID != scim.ID {
				t.Errorf("FindSourceByTokenHash = %v, %v", got, err)
			}
			_, err = db.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(tok+"x"))
			wantCode(t, err, hrgate.ENOTFOUND)
			_, err = db.FindSource(ctx, "nope")
			wantCode(t, err, hrgate.ENOTFOUND)
		})
		t.Run("List", func(t *testing.T) {
			all, err := db.ListSources(ctx, co.ID)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range all {
				names = append(names, s.Name)
			}
			if len(names) != 3 || names[0] != "entra" || names[1] != "hibob" || names[2] != "payroll-csv" {
				t.Errorf("ListSources = %v", names)
			}
			if none, err := db.ListSources(ctx, "com_other"); err != nil || len(none) != 0 {
				t.Errorf("ListSources(other company) = %v, %v", none, err)
			}
		})
		t.Run("SecretSealed", func(t *testing.T) {
			got, err := db.SourceSecret(ctx, hook.ID)
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("SourceSecret = %x, %v", got, err)
			}
			_, err = db.SourceSecret(ctx, csv.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			dump := storetest.Dump(t, dsn)
			if bytes.Contains(dump, key) || bytes.Contains(dump, []byte(hex.EncodeToString(key))) {
				t.Error("the webhook secret is stored in the clear")
			}
		})
		t.Run("Rotate", func(t *testing.T) {
			newTok, err := hrgate.GenerateSourceToken(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			newKey, _, err := hrgate.GenerateWebhookSecret(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			// A credential of another kind than the source's, or of
			// neither, changes nothing.
			wantCode(t, db.RotateSourceCredential(ctx, hook.ID, hrgate.HashSourceToken(newTok), nil, ts(4)), hrgate.EINVALID)
			wantCode(t, db.RotateSourceCredential(ctx, scim.ID, nil, newKey, ts(4)), hrgate.EINVALID)
			wantCode(t, db.RotateSourceCredential(ctx, csv.ID, nil, newKey, ts(4)), hrgate.EINVALID)
			wantCode(t, db.RotateSourceCredential(ctx, scim.ID, nil, nil, ts(4)), hrgate.EINVALID)
			wantCode(t, db.RotateSourceCredential(ctx, "src_missing", hrgate.HashSourceToken(newTok), nil, ts(4)), hrgate.ENOTFOUND)
			if got, err := db.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(tok)); err != nil || got.ID != scim.ID {
				t.Fatalf("after refused rotations, the old token: %v, %v", got, err)
			}

			if err := db.RotateSourceCredential(ctx, scim.ID, hrgate.HashSourceToken(newTok), nil, ts(4)); err != nil {
				t.Fatal(err)
			}
			_, err = db.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(tok))
			wantCode(t, err, hrgate.ENOTFOUND)
			if got, err := db.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(newTok)); err != nil || got.ID != scim.ID {
				t.Errorf("the new token: %v, %v", got, err)
			}

			// The old sealed value is overwritten, in the files too. On
			// PostgreSQL the dump holds only live rows: the check there
			// only shows the rotation replaced the row.
			oldSealed, err := db.QueryBytesForTest(ctx, `SELECT secret FROM source_secrets WHERE source_id = ?`, hook.ID)
			if err != nil || len(oldSealed) < 16 {
				t.Fatalf("the sealed secret: %x, %v", oldSealed, err)
			}
			holds := func(dump, b []byte) bool {
				return bytes.Contains(dump, b) || bytes.Contains(dump, []byte(hex.EncodeToString(b)))
			}
			if !holds(storetest.Dump(t, dsn), oldSealed) {
				t.Fatal("the dump does not hold the sealed secret: the check below proves nothing")
			}
			if err := db.RotateSourceCredential(ctx, hook.ID, nil, newKey, ts(4)); err != nil {
				t.Fatal(err)
			}
			if holds(storetest.Dump(t, dsn), oldSealed) {
				t.Error("the old sealed secret is still in the database files")
			}
			if got, err := db.SourceSecret(ctx, hook.ID); err != nil || !bytes.Equal(got, newKey) {
				t.Fatalf("SourceSecret after rotation = %x, %v", got, err)
			}
			// Neither secret is left in the clear in the files.
			dump := storetest.Dump(t, dsn)
			for _, k := range [][]byte{key, newKey} {
				if bytes.Contains(dump, k) || bytes.Contains(dump, []byte(hex.EncodeToString(k))) {
					t.Error("a webhook secret is stored in the clear")
				}
			}
			key = newKey
		})
		t.Run("Delete", func(t *testing.T) {
			if err := db.DeleteSource(ctx, hook.ID); err != nil {
				t.Fatal(err)
			}
			_, err := db.FindSource(ctx, hook.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			_, err = db.SourceSecret(ctx, hook.ID)
			wantCode(t, err, hrgate.ENOTFOUND)
			wantCode(t, db.DeleteSource(ctx, hook.ID), hrgate.ENOTFOUND)
		})
	})
}

// TestPruneSyncRuns: the finished runs older than the cut-off go, of
// every source, however many there are (more than one batch here); the
// newer ones and a running one, however old, stay.
func TestPruneSyncRuns(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(43)
		co := newCompany(t, g, "acme", false)
		mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
		cut := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		var srcs []*hrgate.Source
		for _, name := range []string{"payroll", "hris"} {
			s := &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: name, Type: hrgate.SourceCSV, CreatedAt: cut}
			if err := db.CreateSource(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, s)
		}
		run := func(src *hrgate.Source, status string, started time.Time) *hrgate.SyncRun {
			t.Helper()
			r := &hrgate.SyncRun{ID: g.new(t, hrgate.PrefixSyncRun), SourceID: src.ID, Kind: "csv", Mode: "upsert", Status: status, StartedAt: started}
			if err := db.CreateSyncRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		const old = 1005 // more than one delete statement's worth
		for i := range old {
			run(srcs[0], hrgate.RunSucceeded, cut.Add(-time.Duration(i+1)*time.Second))
		}
		run(srcs[1], hrgate.RunFailed, cut.Add(-time.Hour))
		running := run(srcs[1], hrgate.RunRunning, cut.Add(-48*time.Hour))
		recent := []*hrgate.SyncRun{run(srcs[0], hrgate.RunSucceeded, cut), run(srcs[1], hrgate.RunFailed, cut.Add(time.Minute))}

		n, err := db.PruneSyncRuns(ctx, cut)
		if err != nil || n != old+1 {
			t.Fatalf("PruneSyncRuns = %d, %v; want %d", n, err, old+1)
		}
		kept := map[string]bool{}
		for _, s := range srcs {
			rs, err := db.SyncRuns(ctx, s.ID, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				kept[r.ID] = true
			}
		}
		if len(kept) != 3 || !kept[running.ID] || !kept[recent[0].ID] || !kept[recent[1].ID] {
			t.Fatalf("kept %v; want the running run and the two at or after the cut-off", kept)
		}
		if n, err := db.PruneSyncRuns(ctx, cut); err != nil || n != 0 {
			t.Fatalf("second PruneSyncRuns = %d, %v; want 0", n, err)
		}
	})
}
