package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/audit"
	"github.com/hrgate/hrgate/sqlstore"
)

// searchBase is the time the search tests' events start from.
var searchBase = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// at is searchBase plus us microseconds.
func at(us int64) time.Time { return searchBase.Add(time.Duration(us) * time.Microsecond) }

// searchEvents are the events the search tests record, at microsecond
// offsets from searchBase: several events share a time, one arrives late
// (it takes its predecessor's time), and the types mix api.request with
// types the type index keeps.
var searchEvents = []struct {
	us  int64
	typ string
}{
	{100, hrgate.AuditAPIRequest},
	{100, hrgate.AuditConsumerUpdated},
	{100, hrgate.AuditAPIRequest},
	{120, hrgate.AuditAPIRequest},
	{140, hrgate.AuditAuthFailure},
	{140, hrgate.AuditAPIRequest},
	{130, hrgate.AuditConsumerUpdated}, // late: stored at 140
	{160, hrgate.AuditAPIRequest},
	{200, hrgate.AuditConsumerUpdated},
	{200, hrgate.AuditAPIRequest},
	{200, hrgate.AuditAPIRequest},
	{300, hrgate.AuditAPIRequest},
	{310, hrgate.AuditAuthFailure},
	{400, hrgate.AuditConsumerUpdated},
}

// recordSearchEvents records searchEvents, from event number from on,
// and waits until each is durable.
func recordSearchEvents(tb testing.TB, l *audit.Log, from int, shift int64) {
	tb.Helper()
	for i, e := range searchEvents {
		ev := &hrgate.AuditEvent{
			Time: at(e.us + shift), Type: e.typ, ActorKind: hrgate.ActorConsumer, Actor: "payroll",
			ConsumerID: "con_payroll", CredentialID: "key_1", RecordIDs: []string{fmt.Sprintf("emp_%d", (from+i)%4)},
		}
		if e.typ == hrgate.AuditAuthFailure {
			ev.Reason = "unknown key"
		}
		if err := l.Record(context.Background(), ev); err != nil {
			tb.Fatalf("record event %d: %v", from+i, err)
		}
	}
}

// allRows returns every stored row in order.
func allRows(tb testing.TB, st hrgate.AuditStore) []*hrgate.AuditRow {
	tb.Helper()
	if err := st.FlushAudit(context.Background()); err != nil {
		tb.Fatal(err)
	}
	rows, err := st.AuditRows(context.Background(), 0, 10_000)
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// expectSearch is FindAuditRows's answer worked out from every row,
// without the database: the rows of f's time range that pass keep.
func expectSearch(rows []*hrgate.AuditRow, f hrgate.AuditFilter, keep func(*hrgate.AuditRow) bool) []int64 {
	var want []int64
	for _, r := range rows {
		switch {
		case r.Seq <= f.AfterSeq,
			!f.From.IsZero() && r.Time.Before(f.From),
			!f.To.IsZero() && !r.Time.Before(f.To),
			len(f.Types) > 0 && !slices.Contains(f.Types, r.Type),
			keep != nil && !keep(r):
			continue
		}
		if len(want) < f.Limit {
			want = append(want, r.Seq)
		}
	}
	return want
}

func seqsOf(rows []*hrgate.AuditRow) []int64 {
	seqs := make([]int64, 0, len(rows))
	for _, r := range rows {
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

// boundaries returns the times a search test bounds ranges with: none,
// before the first event, and each stored time, a microsecond before it
// and a microsecond after it.
func boundaries(rows []*hrgate.AuditRow) []time.Time {
	out := []time.Time{{}}
	for _, r := range rows {
		for _, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
			if t := r.Time.Add(d); !slices.ContainsFunc(out, t.Equal) {
				out = append(out, t)
			}
		}
	}
	return out
}

// A time range is a range of seq found by a binary search over the
// primary key, not an index on time: every range, whether its ends fall
// on an event's time, between events, before the first or after the
// last, empty or reversed, returns exactly the events within it, alone
// and with the other filters.
func TestFindAuditRowsTimeRange(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := openTrail(t, dsn)
		l := openTrailLog(t, st, "search")
		recordSearchEvents(t, l, 0, 0)
		rows := allRows(t, st)
		if len(rows) != len(searchEvents) {
			t.Fatalf("%d rows stored; want %d", len(rows), len(searchEvents))
		}
		for i, r := range rows {
			if i > 0 && r.Time.Before(rows[i-1].Time) {
				t.Fatalf("event %d is stored older than event %d", r.Seq, rows[i-1].Seq)
			}
		}
		if want := at(140); !rows[6].Time.Equal(want) {
			t.Fatalf("the late event is stored at %v; want its predecessor's time %v", rows[6].Time, want)
		}
		// Who accessed emp_1, without a time range: an index look-up
		// whose answer the cases below narrow by time.
		emp1, err := st.FindAuditRows(ctx, hrgate.AuditFilter{RecordID: "emp_1", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(emp1) == 0 {
			t.Fatal("no event accessed emp_1")
		}
		inEmp1 := func(r *hrgate.AuditRow) bool { return slices.Contains(seqsOf(emp1), r.Seq) }
		variants := []struct {
			name string
			f    hrgate.AuditFilter
			keep func(*hrgate.AuditRow) bool
		}{
			{name: "Range", f: hrgate.AuditFilter{Limit: 100}},
			{name: "Limit", f: hrgate.AuditFilter{Limit: 2}},
			{name: "AfterSeq", f: hrgate.AuditFilter{AfterSeq: 5, Limit: 100}},
			{name: "IndexedType", f: hrgate.AuditFilter{Types: []string{hrgate.AuditConsumerUpdated, hrgate.AuditAuthFailure}, Limit: 100}},
			{name: "RequestType", f: hrgate.AuditFilter{Types: []string{hrgate.AuditAPIRequest}, Limit: 100}},
			{name: "Record", f: hrgate.AuditFilter{RecordID: "emp_1", Limit: 100}, keep: inEmp1},
		}
		bounds := boundaries(rows)
		for _, v := range variants {
			for _, from := range bounds {
				for _, to := range bounds {
					f := v.f
					f.From, f.To = from, to
					got, err := st.FindAuditRows(ctx, f)
					if err != nil {
						t.Fatalf("%s from %v to %v: %v", v.name, from, to, err)
					}
					if want := expectSearch(rows, f, v.keep); !slices.Equal(seqsOf(got), want) {
						t.Fatalf("%s from %v to %v: events %v; want %v", v.name, from, to, seqsOf(got), want)
					}
				}
			}
		}

		// A range that reaches past the newest event is not bounded
		// by it: events appended later fall in it.
		open := hrgate.AuditFilter{From: at(401), To: at(100_000), Limit: 100}
		if got, err := st.FindAuditRows(ctx, open); err != nil || len(got) != 0 {
			t.Fatalf("after the last event: %v, %v; want none", seqsOf(got), err)
		}
		recordSearchEvents(t, l, len(searchEvents), 1000)
		rows = allRows(t, st)
		for _, f := range []hrgate.AuditFilter{open, {From: at(401), Limit: 100}, {To: at(1101), Limit: 100}} {
			got, err := st.FindAuditRows(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if want := expectSearch(rows, f, nil); len(want) == 0 || !slices.Equal(seqsOf(got), want) {
				t.Fatalf("from %v to %v after more appends: events %v; want %v", f.From, f.To, seqsOf(got), want)
			}
		}
	})
}

// chainKey is journalKeys's chain key, with which sealRows MACs.
var chainKey = []byte(strings.Repeat("c", 32))

// sealRows seals one event at each of times after head as audit.Log does
// (docs/audit.md), so that a test can hand the store rows that extend the
// chain, or rows with one thing wrong. The new head takes the last time.
func sealRows(head hrgate.AuditHead, times ...time.Time) ([]*hrgate.AuditRow, hrgate.AuditHead) {
	prev := head.Hash
	if head.Seq == 0 {
		prev = make([]byte, sha256.Size)
	}
	var rows []*hrgate.AuditRow
	next := head
	for i, t := range times {
		seq := head.Seq + int64(i) + 1
		ev := &hrgate.AuditEvent{
			Time: t, Type: hrgate.AuditConsumerUpdated, ActorKind: hrgate.ActorAdmin, Actor: "admin",
			ConsumerID: "con_payroll", RecordIDs: []string{"emp_9"},
		}
		body := audit.Encode(nil, ev)
		h := sha256.New()
		h.Write([]byte("hrgate.audit.event.v1\x00"))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(seq)))
		h.Write(prev)
		h.Write(body)
		hash := h.Sum(nil)
		rows = append(rows, &hrgate.AuditRow{
			Seq: seq, Time: t, Type: ev.Type, ConsumerID: ev.ConsumerID, RecordIDs: ev.RecordIDs, Body: body,
			PrevHash: prev, Hash: hash, MAC: chainMAC("hrgate.audit.mac.v1\x00", hash),
		})
		prev = hash
		next = hrgate.AuditHead{Seq: seq, Time: t, Hash: hash}
	}
	next.MAC = chainMAC("hrgate.audit.head.v1\x00",
		binary.BigEndian.AppendUint64(nil, uint64(next.Seq)), binary.BigEndian.AppendUint64(nil, uint64(next.Time.UnixMicro())), next.Hash)
	return rows, next
}

func chainMAC(domain string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, chainKey)
	m.Write([]byte(domain))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// The store refuses rows that go back in time, since searches by time
// rely on time rising with seq; the head's time must be its newest
// event's. The rows of every case link, so that only the time can be
// what is refused, and the rows of the accepted case verify.
func TestAppendAuditRefusesGoingBack(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := openTrail(t, dsn)
		l := openTrailLog(t, st, "search")
		recordSearchEvents(t, l, 0, 0)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		rows := allRows(t, st)
		last := rows[len(rows)-1]
		for _, tc := range []struct {
			name      string
			row, head time.Time
			wantErr   string // empty: accepted
		}{
			{name: "SameTime", row: last.Time, head: last.Time},
			{name: "Older", row: last.Time.Add(-time.Microsecond), head: last.Time.Add(-time.Microsecond), wantErr: "is older than the event before it"},
			{name: "HeadOlder", row: last.Time, head: last.Time.Add(-time.Microsecond), wantErr: "head's time is not that of its newest event"},
			{name: "HeadNewer", row: last.Time, head: last.Time.Add(time.Microsecond), wantErr: "head's time is not that of its newest event"},
		} {
			err := st.AppendAudit(ctx, func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error) {
				rows, next := sealRows(head, tc.row)
				next.Time = tc.head
				return rows, next, nil
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("%s: append = %v; want accepted", tc.name, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("%s: append = %v; want refused with %q", tc.name, err, tc.wantErr)
			}
		}
		verifyTrail(t, st, int64(len(searchEvents))+1)
	})
}

// The store refuses rows that do not extend the chain: a row that does
// not link to the one before it, a head that is not the last row, a hash
// of the wrong size. On SQLite such a frame in the journal would be
// refused by every later read of it, so that the trail could be neither
// moved into the database nor opened again: after the refusals the trail
// takes events, is reopened and verifies.
func TestAppendAuditRefusesBrokenLinks(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := openTrail(t, dsn)
		l := openTrailLog(t, st, "links")
		recordSearchEvents(t, l, 0, 0)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		t0 := at(1000)
		for _, tc := range []struct {
			name    string
			breakIt func(rows []*hrgate.AuditRow, next *hrgate.AuditHead)
			wantErr string
		}{
			{name: "FirstPrevHash", breakIt: func(rows []*hrgate.AuditRow, _ *hrgate.AuditHead) {
				rows[0].PrevHash = bytes.Repeat([]byte{1}, sha256.Size)
			}, wantErr: "does not link to the event before it"},
			{name: "PrevHashBetweenRows", breakIt: func(rows []*hrgate.AuditRow, _ *hrgate.AuditHead) {
				rows[1].PrevHash = rows[0].MAC
			}, wantErr: "does not link to the event before it"},
			{name: "HeadHash", breakIt: func(rows []*hrgate.AuditRow, next *hrgate.AuditHead) {
				next.Hash = rows[0].Hash
			}, wantErr: "head's hash is not that of its newest event"},
			{name: "ShortMAC", breakIt: func(rows []*hrgate.AuditRow, _ *hrgate.AuditHead) {
				rows[1].MAC = rows[1].MAC[:16]
			}, wantErr: "has a hash of the wrong size"},
		} {
			err := st.AppendAudit(ctx, func(head hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error) {
				rows, next := sealRows(head, t0, t0)
				tc.breakIt(rows, &next)
				return rows, next, nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("%s: append = %v; want refused with %q", tc.name, err, tc.wantErr)
			}
		}

		// The trail goes on: events are appended, moved into the
		// database, reopened and verified.
		l = openTrailLog(t, st, "links2")
		recordSearchEvents(t, l, len(searchEvents), 1000)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.FlushAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := sqlstore.OpenAuditLog(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatalf("reopen the trail: %v", err)
		}
		t.Cleanup(func() { _ = st.Close() })
		verifyTrail(t, st, int64(2*len(searchEvents)))
	})
}

// Every search the API and the CLI make is served by an index or bounded
// by seq: the database's plan never reads the whole of audit_events or
// audit_records. On PostgreSQL sequential scans are turned off for the
// plan, so that one shows only where no index can serve.
func TestFindAuditRowsPlans(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := openTrail(t, dsn)
		l := openTrailLog(t, st, "search")
		recordSearchEvents(t, l, 0, 0)
		for _, tc := range []struct {
			name string
			f    hrgate.AuditFilter
			want string // an index the plan must name
		}{
			{name: "All", f: hrgate.AuditFilter{}},
			{name: "Page", f: hrgate.AuditFilter{AfterSeq: 3}},
			{name: "TimeRange", f: hrgate.AuditFilter{From: at(120), To: at(300)}},
			{name: "Employee", f: hrgate.AuditFilter{RecordID: "emp_1"}, want: "audit_records"},
			{name: "EmployeeTimeRange", f: hrgate.AuditFilter{RecordID: "emp_1", From: at(120), To: at(300)}, want: "audit_records"},
			{name: "Consumer", f: hrgate.AuditFilter{ConsumerID: "con_payroll"}, want: "audit_events_consumer_idx"},
			{name: "Credential", f: hrgate.AuditFilter{CredentialID: "key_1"}, want: "audit_events_credential_idx"},
			{name: "Type", f: hrgate.AuditFilter{Types: []string{hrgate.AuditConsumerUpdated}}, want: "audit_events_type_idx"},
			{name: "Types", f: hrgate.AuditFilter{Types: []string{hrgate.AuditConsumerUpdated, hrgate.AuditAuthFailure}}, want: "audit_events_type_idx"},
			{name: "RequestType", f: hrgate.AuditFilter{Types: []string{hrgate.AuditAPIRequest}, From: at(120)}},
		} {
			tc.f.Limit = 100
			plan, err := st.AuditSearchPlanForTest(ctx, tc.f)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if plan == "" {
				t.Fatalf("%s: no plan", tc.name)
			}
			for _, bad := range []string{"SCAN audit_events", "SCAN audit_records", "Seq Scan"} {
				if strings.Contains(plan, bad) {
					t.Errorf("%s reads a whole table (%s):\n%s", tc.name, bad, plan)
				}
			}
			if tc.want != "" && !strings.Contains(plan, tc.want) {
				t.Errorf("%s does not use %s:\n%s", tc.name, tc.want, plan)
			}
		}
	})
}

// A trail written under the first audit schema, with its time index,
// upgrades in place: the migration drops the index and narrows the type
// index, searches by time and type find the events written before it,
// the trail verifies, and appends go on after it.
func TestAuditSchemaUpgrade(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		old, err := sqlstore.OpenAuditLog(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.ApplyAuditMigrationsForTest(ctx, 1); err != nil {
			t.Fatal(err)
		}
		l := openTrailLog(t, directAppends{old}, "v1")
		recordSearchEvents(t, l, 0, 0)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		st, err := sqlstore.OpenAuditLog(ctx, dsn, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		if n, err := st.Migrate(ctx); err != nil || n == 0 {
			t.Fatalf("migrate = %d, %v; want the newer audit migrations applied", n, err)
		}
		verifyTrail(t, st, int64(len(searchEvents)))
		plan, err := st.AuditSearchPlanForTest(ctx, hrgate.AuditFilter{Types: []string{hrgate.AuditConsumerUpdated}, Limit: 10})
		if err != nil || !strings.Contains(plan, "audit_events_type_idx") {
			t.Fatalf("the upgraded type index serves no type search (%v):\n%s", err, plan)
		}
		rows := allRows(t, st)
		for _, f := range []hrgate.AuditFilter{
			{From: at(140), To: at(200), Limit: 100},
			{Types: []string{hrgate.AuditConsumerUpdated}, From: at(100), To: at(400), Limit: 100},
		} {
			got, err := st.FindAuditRows(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if want := expectSearch(rows, f, nil); len(want) == 0 || !slices.Equal(seqsOf(got), want) {
				t.Fatalf("from %v to %v, types %v: events %v; want %v", f.From, f.To, f.Types, seqsOf(got), want)
			}
		}
		l2 := openTrailLog(t, st, "v2")
		recordSearchEvents(t, l2, len(searchEvents), 1000)
		if err := l2.Close(); err != nil {
			t.Fatal(err)
		}
		verifyTrail(t, st, int64(2*len(searchEvents)))
	})
}

// directAppends appends straight into the tables, as no journal opens on
// the first audit schema.
type directAppends struct{ *sqlstore.AuditLog }

func (d directAppends) AppendAudit(ctx context.Context, seal func(hrgate.AuditHead) ([]*hrgate.AuditRow, hrgate.AuditHead, error)) error {
	return d.AppendDirectForTest(ctx, seal)
}
