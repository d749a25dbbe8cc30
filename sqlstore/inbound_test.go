package sqlstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sqlstore"
)

// Message ids are remembered per source, a repeat reports not fresh and
// the outcome stays readable; ids older than MessageRetention are
// forgotten as new ones arrive; a rolled-back transaction remembers
// nothing; deleting the source forgets its ids.
func TestSourceMessages(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(43)
		src, other := twoWebhookSources(t, db, g)
		t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		record := func(s *hrgate.Source, id string, at time.Time) bool {
			t.Helper()
			var fresh bool
			err := db.Sync(ctx, s, func(tx hrgate.SyncTx) error {
				var err error
				if fresh, err = tx.RecordMessage(ctx, id, at); err != nil || !fresh {
					return err
				}
				return tx.SetMessageOutcome(ctx, id, []byte(`{"id":"`+id+`"}`))
			})
			if err != nil {
				t.Fatal(err)
			}
			return fresh
		}
		if !record(src, "m1", t0) || record(src, "m1", t0.Add(time.Minute)) {
			t.Fatal("m1: want fresh, then not")
		}
		if !record(other, "m1", t0) {
			t.Fatal("the same id of another source is fresh")
		}
		if b, err := db.MessageOutcome(ctx, src.ID, "m1"); err != nil || string(b) != `{"id":"m1"}` {
			t.Fatalf("outcome: %s %v", b, err)
		}

		// A transaction that fails remembers nothing.
		boom := errors.New("boom")
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error {
			if _, err := tx.RecordMessage(ctx, "m2", t0); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("rolled back: %v", err)
		}
		if _, err := db.MessageOutcome(ctx, src.ID, "m2"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("a rolled-back message is remembered: %v", err)
		}

		// A day later, a new message purges the old ids of its source.
		if !record(src, "m3", t0.Add(hrgate.MessageRetention+time.Second)) {
			t.Fatal("m3 not fresh")
		}
		if _, err := db.MessageOutcome(ctx, src.ID, "m1"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("m1 outlived the retention: %v", err)
		}
		if _, err := db.MessageOutcome(ctx, other.ID, "m1"); err != nil {
			t.Fatalf("another source's id was purged: %v", err)
		}

		if err := db.DeleteSource(ctx, src.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MessageOutcome(ctx, src.ID, "m3"); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
			t.Fatalf("a deleted source's ids remain: %v", err)
		}
	})
}

// A run created in a sync transaction commits with it or not at all, and
// a transaction records only its own source's runs.
func TestSyncTxCreateRun(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := MustOpenDB(t, dsn)
		g := newIDs(44)
		src, other := twoWebhookSources(t, db, g)
		run := func(s *hrgate.Source, n int) *hrgate.SyncRun {
			return &hrgate.SyncRun{ID: g.new(t, hrgate.PrefixSyncRun), SourceID: s.ID, Kind: "webhook", Mode: "upsert",
				Status: hrgate.RunSucceeded, StartedAt: ts(n), FinishedAt: ts(n + 1), Rows: 1, Created: 1}
		}
		kept, dropped := run(src, 1), run(src, 2)
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error { return tx.CreateRun(ctx, kept) }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error {
			if err := tx.CreateRun(ctx, dropped); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatalf("rolled back: %v", err)
		}
		if err := db.Sync(ctx, src, func(tx hrgate.SyncTx) error { return tx.CreateRun(ctx, run(other, 3)) }); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Fatalf("another source's run: %v", err)
		}
		for _, c := range []struct {
			src  *hrgate.Source
			want []string
		}{{src, []string{kept.ID}}, {other, nil}} {
			rs, err := db.SyncRuns(ctx, c.src.ID, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("runs of %s = %v, want %v", c.src.Name, got, c.want)
			}
			if len(rs) == 1 && (rs[0].Status != hrgate.RunSucceeded || rs[0].Created != 1 || !rs[0].FinishedAt.Equal(ts(2))) {
				t.Errorf("stored run %+v", rs[0])
			}
		}
	})
}

// twoWebhookSources creates a company and two webhook sources of it,
// "hibob" and "other".
func twoWebhookSources(t *testing.T, db *sqlstore.DB, g *ids) (src, other *hrgate.Source) {
	t.Helper()
	co := newCompany(t, g, "acme", false)
	mustInsert(t, db, &hrgate.Batch{Companies: []*hrgate.Company{co}})
	key, _, err := hrgate.GenerateWebhookSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	src = &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "hibob", Type: hrgate.SourceWebhook, CreatedAt: ts(1)}
	other = &hrgate.Source{ID: g.new(t, hrgate.PrefixSource), CompanyID: co.ID, Name: "other", Type: hrgate.SourceWebhook, CreatedAt: ts(1)}
	for _, s := range []*hrgate.Source{src, other} {
		if err := db.CreateSource(context.Background(), s, key); err != nil {
			t.Fatal(err)
		}
	}
	return src, other
}
