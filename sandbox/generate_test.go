package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/sandbox"
)

// testNow is a fixed "today" with nanoseconds and a monotonic-free wall
// clock, so the tests also prove timestamps are truncated to microseconds.
var testNow = time.Date(2026, time.March, 14, 15, 9, 26, 535897932, time.UTC)

// MustGenerate runs Generate and returns every batch it emits.
func MustGenerate(tb testing.TB, o sandbox.Options) []*hrgate.Batch {
	tb.Helper()
	var batches []*hrgate.Batch
	if err := sandbox.Generate(context.Background(), o, func(b *hrgate.Batch) error {
		batches = append(batches, b)
		return nil
	}); err != nil {
		tb.Fatalf("Generate: %v", err)
	}
	return batches
}

// batchJSON returns the JSON of each batch.
func batchJSON(tb testing.TB, batches []*hrgate.Batch) [][]byte {
	tb.Helper()
	out := make([][]byte, len(batches))
	for i, b := range batches {
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = j
	}
	return out
}

// employeesOf returns the employees of batches in emission order.
func employeesOf(batches []*hrgate.Batch) []*hrgate.Employee {
	var out []*hrgate.Employee
	for _, b := range batches {
		out = append(out, b.Employees...)
	}
	return out
}

func TestOptions_Validate(t *testing.T) {
	ok := sandbox.Options{Companies: 1, Employees: 1, Seed: 1, Now: testNow}
	tests := []struct {
		name    string
		modify  func(*sandbox.Options)
		wantErr string // substring of the message; "" means valid
	}{
		{"OK", func(*sandbox.Options) {}, ""},
		{"OKLimits", func(o *sandbox.Options) {
			o.Companies, o.Employees, o.BatchSize = sandbox.MaxCompanies, sandbox.MaxEmployees, sandbox.MaxBatchSize
		}, ""},
		{"OKNegativeSeed", func(o *sandbox.Options) { o.Seed = -7 }, ""},
		{"ErrNoCompanies", func(o *sandbox.Options) { o.Companies = 0 }, "companies must be between 1 and 50"},
		{"ErrTooManyCompanies", func(o *sandbox.Options) { o.Companies = 51 }, "companies must be between 1 and 50"},
		{"ErrNoEmployees", func(o *sandbox.Options) { o.Employees = 0 }, "employees must be between 1 and 1000000"},
		{"ErrTooManyEmployees", func(o *sandbox.Options) { o.Employees = 1_000_001 }, "employees must be between 1 and 1000000"},
		{"ErrNoNow", func(o *sandbox.Options) { o.Now = time.Time{} }, "now must be set"},
		{"ErrNowTooEarly", func(o *sandbox.Options) { o.Now = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }, "now must be between"},
		{"ErrNegativeBatchSize", func(o *sandbox.Options) { o.BatchSize = -1 }, "batch size must be between"},
		{"ErrHugeBatchSize", func(o *sandbox.Options) { o.BatchSize = sandbox.MaxBatchSize + 1 }, "batch size must be between"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.modify(&o)
			err := o.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if code := hrgate.ErrorCode(err); code != hrgate.EINVALID {
				t.Fatalf("Validate() code = %q, want %q (err %v)", code, hrgate.EINVALID, err)
			}
			if msg := hrgate.ErrorMessage(err); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("Validate() message = %q, want it to contain %q", msg, tc.wantErr)
			}
			// Generate refuses the same options without emitting anything.
			called := false
			err = sandbox.Generate(context.Background(), o, func(*hrgate.Batch) error { called = true; return nil })
			if hrgate.ErrorCode(err) != hrgate.EINVALID || called {
				t.Errorf("Generate() = %v (emit called %v), want EINVALID and no emit", err, called)
			}
		})
	}
}

func TestGenerate_Deterministic(t *testing.T) {
	o := sandbox.Options{Companies: 3, Employees: 400, Seed: 42, Now: testNow, BatchSize: 128}
	first := batchJSON(t, MustGenerate(t, o))
	tests := []struct {
		name   string
		modify func(*sandbox.Options)
		same   bool
	}{
		{"SameSeed", func(*sandbox.Options) {}, true},
		// The same instant seen from another zone is the same "today".
		{"SameInstantOtherZone", func(o *sandbox.Options) { o.Now = testNow.In(time.FixedZone("X", -7*3600)) }, true},
		{"OtherSeed", func(o *sandbox.Options) { o.Seed = 43 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := o
			tc.modify(&o)
			again := batchJSON(t, MustGenerate(t, o))
			if len(again) != len(first) {
				t.Fatalf("got %d batches, want %d", len(again), len(first))
			}
			identical := true
			for i := range first {
				if !bytes.Equal(first[i], again[i]) {
					identical = false
					if tc.same {
						t.Fatalf("batch %d differs between runs with the same options", i)
					}
				}
			}
			if !tc.same && identical {
				t.Fatal("a different seed produced identical data")
			}
		})
	}
}

func TestGenerate_BatchSizeDoesNotChangeData(t *testing.T) {
	o := sandbox.Options{Companies: 2, Employees: 300, Seed: 9, Now: testNow}
	var want []byte
	for _, size := range []int{0, 1, 7, 300, 1000} {
		o.BatchSize = size
		j, err := json.Marshal(employeesOf(MustGenerate(t, o)))
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = j
		} else if !bytes.Equal(j, want) {
			t.Errorf("BatchSize %d changed the employees", size)
		}
	}
}

func TestGenerate_BatchLayout(t *testing.T) {
	const companies, employees, size = 3, 250, 100
	batches := MustGenerate(t, sandbox.Options{Companies: companies, Employees: employees, Seed: 1, Now: testNow, BatchSize: size})
	perCompany := 1 + (employees+size-1)/size
	if len(batches) != companies*perCompany {
		t.Fatalf("got %d batches, want %d", len(batches), companies*perCompany)
	}
	for i, b := range batches {
		if i%perCompany == 0 {
			if len(b.Companies) != 1 || len(b.Teams) == 0 || len(b.Locations) == 0 || len(b.Employees) != 0 {
				t.Errorf("batch %d: first batch of a company has %d companies, %d teams, %d locations, %d employees",
					i, len(b.Companies), len(b.Teams), len(b.Locations), len(b.Employees))
			}
			continue
		}
		if len(b.Companies)+len(b.Teams)+len(b.Locations) != 0 || len(b.Employees) == 0 || len(b.Employees) > size {
			t.Errorf("batch %d: employee batch holds %d companies/teams/locations and %d employees",
				i, len(b.Companies)+len(b.Teams)+len(b.Locations), len(b.Employees))
		}
		if len(b.TimeOffBalances) != 2*len(b.Employees) {
			t.Errorf("batch %d: %d balances for %d employees, want 2 each", i, len(b.TimeOffBalances), len(b.Employees))
		}
		if len(b.TimeOffRequests) > 4*len(b.Employees) {
			t.Errorf("batch %d: %d requests for %d employees, want at most 4 each", i, len(b.TimeOffRequests), len(b.Employees))
		}
	}
}

func TestGenerate_Stops(t *testing.T) {
	o := sandbox.Options{Companies: 2, Employees: 50, Seed: 1, Now: testNow, BatchSize: 10}
	errEmit := errors.New("store is full")
	tests := []struct {
		name      string
		ctx       func() context.Context
		failAt    int // emit call that fails, from 1; 0 never
		cancelAt  int // emit call that cancels the context, from 1; 0 never
		wantErr   error
		wantCalls int
	}{
		{"ErrEmitFirst", context.Background, 1, 0, errEmit, 1},
		{"ErrEmitLater", context.Background, 4, 0, errEmit, 4},
		{"ErrCanceledBefore", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, 0, 0, context.Canceled, 0},
		{"ErrCanceledDuring", context.Background, 0, 3, context.Canceled, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(tc.ctx())
			defer cancel()
			calls := 0
			err := sandbox.Generate(ctx, o, func(*hrgate.Batch) error {
				calls++
				if calls == tc.cancelAt {
					cancel()
				}
				if calls == tc.failAt {
					return errEmit
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Generate() = %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("emit called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestGenerate_Companies(t *testing.T) {
	batches := MustGenerate(t, sandbox.Options{Companies: sandbox.MaxCompanies, Employees: 1, Seed: 5, Now: testNow})
	slugs, names, remoteIDs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	countries := []string{"US", "GB", "DE", "FR"}
	n := 0
	for _, b := range batches {
		for _, c := range b.Companies {
			if slugs[c.Slug] || names[c.Name] || remoteIDs[c.RemoteID] {
				t.Errorf("company %d repeats slug %q, name %q or remote id %q", n, c.Slug, c.Name, c.RemoteID)
			}
			slugs[c.Slug], names[c.Name], remoteIDs[c.RemoteID] = true, true, true
			if c.Slug != strings.ToLower(c.Slug) || strings.ContainsAny(c.Slug, " ._") || c.Slug == "" {
				t.Errorf("slug %q is not a readable lower-case slug", c.Slug)
			}
			if !c.Sandbox || !hrgate.ValidID(hrgate.PrefixCompany, c.ID) || c.Country != countries[n%4] {
				t.Errorf("company %d = %+v, want a sandbox company in %s with a company id", n, c, countries[n%4])
			}
			n++
		}
	}
	if n != sandbox.MaxCompanies {
		t.Fatalf("got %d companies, want %d", n, sandbox.MaxCompanies)
	}
	if first := batches[0].Companies[0]; first.Slug != "acme" || first.Name != "Acme Corporation" || first.RemoteID != "sandbox-company-1" {
		t.Errorf("first company = %q %q %q, want acme, Acme Corporation, sandbox-company-1", first.Slug, first.Name, first.RemoteID)
	}
}

func TestGenerate_MemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 200,000 employees")
	}
	// The heap seen from emit stays flat while the head count grows: the
	// generator keeps no employee once its batch is emitted.
	var peak [2]uint64
	var ms runtime.MemStats
	n := 0
	err := sandbox.Generate(context.Background(),
		sandbox.Options{Companies: 1, Employees: 200_000, Seed: 1, Now: testNow},
		func(*hrgate.Batch) error {
			n++
			if n%20 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				half := 0
				if n > 100 {
					half = 1
				}
				peak[half] = max(peak[half], ms.HeapAlloc)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live heap after GC: first half %d KiB, second half %d KiB", peak[0]>>10, peak[1]>>10)
	if peak[1] > 32<<20 || peak[1] > peak[0]*3/2+(4<<20) {
		t.Errorf("live heap grows with the head count: %d KiB then %d KiB", peak[0]>>10, peak[1]>>10)
	}
}
