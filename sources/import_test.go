package sources_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

// env is a store with one company and one CSV source, and the service on
// them, its clock fixed.
type env struct {
	db  *sqlstore.DB
	dsn string
	svc *sources.Service
	src *hrgate.Source
	now time.Time
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	co := &hrgate.Company{ID: "com_0000000000000000000000acme", Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: now, ModifiedAt: now}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{co}}); err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, dsn: dsn, now: now}
	e.svc = sources.New(db, sources.WithClock(func() time.Time { return e.now }))
	src, _, err := e.svc.Create(ctx, "payroll", "acme", hrgate.SourceCSV)
	if err != nil {
		t.Fatal(err)
	}
	e.src = src
	return e
}

// importCSV imports text and returns the run and the error.
func (e *env) importCSV(t *testing.T, text string, opts sources.ImportOptions) (*hrgate.SyncRun, error) {
	t.Helper()
	return e.svc.ImportCSV(context.Background(), "payroll", strings.NewReader(text), opts)
}

func (e *env) mustImport(t *testing.T, text string, opts sources.ImportOptions) *hrgate.SyncRun {
	t.Helper()
	run, err := e.importCSV(t, text, opts)
	if err != nil {
		if run != nil {
			t.Fatalf("import: %v; problems: %+v", err, run.Problems)
		}
		t.Fatalf("import: %v", err)
	}
	return run
}

// events returns the outbox after seq.
func (e *env) events(t *testing.T, after int64) []*hrgate.ChangeEvent {
	t.Helper()
	evs, err := e.db.ChangeEvents(context.Background(), after, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (e *env) employees(t *testing.T) map[string]*hrgate.Employee {
	t.Helper()
	es, err := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: hrgate.AllGroups})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*hrgate.Employee, len(es))
	for _, x := range es {
		out[x.RemoteID] = x
	}
	return out
}

const header = "remote_id,first_name,last_name,work_email,start_date,employment_status,pay_rate,pay_currency,pay_period,iban,home_address_country\n"

// row returns a valid row for employee n with the given pay rate.
func row(n int, pay string) string {
	return fmt.Sprintf("E%03d,Ada%d,Lovelace,ada%d@example.com,2020-01-%02d,active,%s,EUR,year,DE89370400440532013000,DE\n", n, n, n, n%28+1, pay)
}

func goodFile(n int) string {
	var b strings.Builder
	b.WriteString(header)
	for i := 1; i <= n; i++ {
		b.WriteString(row(i, "85000.00"))
	}
	return b.String()
}

func forEach(t *testing.T, fn func(t *testing.T, e *env)) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) { fn(t, newEnv(t, dsn(t))) })
	}
}

func TestImport_ThreeBadRowsImportNothing(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		lines := strings.SplitAfter(goodFile(10), "\n")
		// Data row n is lines[n].
		lines[3] = strings.Replace(lines[3], "2020-01-04", "2020-13-04", 1)                         // bad date
		lines[5] = strings.Replace(lines[5], "ada5@example.com", "ada5-at-example.com", 1)          // bad e-mail
		lines[9] = strings.Replace(lines[9], "DE89370400440532013000", "DE89370400440532013001", 1) // bad IBAN checksum
		run, err := e.importCSV(t, strings.Join(lines, ""), sources.ImportOptions{})
		if hrgate.ErrorCode(err) != hrgate.EINVALID || !errors.Is(err, sources.ErrRejected) {
			t.Fatalf("err = %v, want EINVALID wrapping ErrRejected", err)
		}
		if run.Status != hrgate.RunFailed || run.Rejected != 3 || run.Rows != 10 || run.Created != 0 {
			t.Errorf("run = %+v", run)
		}
		want := []hrgate.RowProblem{
			{Row: 3, Column: "start_date"}, {Row: 5, Column: "work_email"}, {Row: 9, Column: "iban"},
		}
		if len(run.Problems) != len(want) {
			t.Fatalf("problems = %+v, want rows 3, 5, 9", run.Problems)
		}
		for i, p := range run.Problems {
			if p.Row != want[i].Row || p.Column != want[i].Column || p.Message == "" {
				t.Errorf("problem %d = %+v, want row %d column %s", i, p, want[i].Row, want[i].Column)
			}
			if strings.Contains(p.Message, "ada5") || strings.Contains(p.Message, "DE8937") {
				t.Errorf("problem %d repeats the value: %q", i, p.Message)
			}
		}
		if n, err := e.db.CountEmployees(context.Background(), hrgate.AllCompanies); err != nil || n != 0 {
			t.Errorf("employees after a rejected file = %d, %v; want 0", n, err)
		}
		if evs := e.events(t, 0); len(evs) != 0 {
			t.Errorf("events after a rejected file = %d, want 0", len(evs))
		}
		runs, err := e.svc.Runs(context.Background(), "payroll", 10)
		if err != nil || len(runs) != 1 || runs[0].Status != hrgate.RunFailed || len(runs[0].Problems) != 3 {
			t.Errorf("recorded runs = %+v, %v", runs, err)
		}
	})
}

func TestImport_SameFileTwiceNoEvents(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		file := goodFile(25)
		run := e.mustImport(t, file, sources.ImportOptions{})
		if run.Created != 25 || run.Status != hrgate.RunSucceeded {
			t.Fatalf("first run = %+v", run)
		}
		evs := e.events(t, 0)
		if len(evs) != 25 {
			t.Fatalf("events after the first import = %d, want 25", len(evs))
		}
		for _, ev := range evs {
			if ev.Type != hrgate.ChangeEmployeeCreated || ev.SourceID != e.src.ID || ev.RunID != run.ID || ev.CompanyID != e.src.CompanyID {
				t.Fatalf("event = %+v", ev)
			}
		}
		last := evs[len(evs)-1].Seq

		e.now = e.now.Add(time.Hour)
		again := e.mustImport(t, file, sources.ImportOptions{})
		if again.Unchanged != 25 || again.Created+again.Updated+again.Terminated != 0 {
			t.Errorf("second run = %+v, want 25 unchanged", again)
		}
		if evs := e.events(t, last); len(evs) != 0 {
			t.Errorf("re-importing the same file wrote %d events, want 0: %+v", len(evs), evs[0])
		}
		if got := e.employees(t)["E001"]; !got.ModifiedAt.Equal(e.now.Add(-time.Hour)) {
			t.Errorf("an unchanged employee's modified_at moved to %v", got.ModifiedAt)
		}
	})
}

func TestImport_OneSalaryChangedOneUpdate(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.mustImport(t, goodFile(5), sources.ImportOptions{})
		last := e.events(t, 0)[4].Seq
		changed := strings.Replace(goodFile(5), row(3, "85000.00"), row(3, "91000.00"), 1)
		run := e.mustImport(t, changed, sources.ImportOptions{})
		if run.Updated != 1 || run.Unchanged != 4 {
			t.Errorf("run = %+v, want 1 updated, 4 unchanged", run)
		}
		evs := e.events(t, last)
		if len(evs) != 1 || evs[0].Type != hrgate.ChangeEmployeeUpdated || !slices.Equal(evs[0].Groups, []string{"compensation"}) {
			t.Fatalf("events = %+v, want one employee.updated naming compensation", evs)
		}
		got := e.employees(t)["E003"]
		if evs[0].EmployeeID != got.ID || got.Compensation.PayRate != "91000.00" || got.Identity.FirstName != "Ada3" {
			t.Errorf("employee after the change = %+v", got)
		}
	})
}

func TestImport_UnmappedGroupsKept(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.mustImport(t, goodFile(2), sources.ImportOptions{})
		last := e.events(t, 0)[1].Seq
		// A file that carries only compensation leaves the other groups.
		run := e.mustImport(t, "remote_id,pay_rate,pay_currency,pay_period\nE002,1.00,USD,hour\n", sources.ImportOptions{})
		if run.Updated != 1 {
			t.Errorf("run = %+v", run)
		}
		got := e.employees(t)["E002"]
		if got.Identity.FirstName != "Ada2" || got.Banking.IBAN != "DE89370400440532013000" || got.Compensation.PayCurrency != "USD" {
			t.Errorf("employee = %+v", got)
		}
		if evs := e.events(t, last); len(evs) != 1 || !slices.Equal(evs[0].Groups, []string{"compensation"}) {
			t.Errorf("events = %+v", evs)
		}
	})
}

func TestImport_SnapshotTerminatesMissing(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.mustImport(t, goodFile(3), sources.ImportOptions{})
		last := e.events(t, 0)[2].Seq
		e.now = e.now.AddDate(0, 0, 1)
		lines := strings.SplitAfter(goodFile(3), "\n")
		snapshot := lines[0] + lines[1] + lines[3] // E002 left out
		run := e.mustImport(t, snapshot, sources.ImportOptions{Mode: sources.ModeSnapshot})
		if run.Terminated != 1 || run.Unchanged != 2 {
			t.Errorf("run = %+v, want 1 terminated, 2 unchanged", run)
		}
		evs := e.events(t, last)
		if len(evs) != 1 || evs[0].Type != hrgate.ChangeEmployeeTerminated || !slices.Equal(evs[0].Groups, []string{"employment"}) {
			t.Fatalf("events = %+v", evs)
		}
		got := e.employees(t)["E002"]
		if got.Employment.Status != hrgate.StatusTerminated || got.Employment.TerminationDate != "2026-11-21" || got.ID != evs[0].EmployeeID {
			t.Errorf("terminated employee = %+v", got.Employment)
		}
		// The same snapshot again changes nothing: E002 stays terminated.
		again := e.mustImport(t, snapshot, sources.ImportOptions{Mode: sources.ModeSnapshot})
		if again.Terminated != 0 || len(e.events(t, evs[0].Seq)) != 0 {
			t.Errorf("second snapshot = %+v", again)
		}
		// Upsert mode leaves the missing alone.
		if got := e.employees(t)["E001"]; got.Employment.Status != hrgate.StatusActive {
			t.Errorf("E001 = %v", got.Employment.Status)
		}
	})
}

func TestImport_BOMCRLFQuotes(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		file := "\uFEFFremote_id,first_name,last_name,job_title,home_address_line1\r\n" +
			"X1,\"Anne, Marie\",\"O\"\"Brien\",Engineer,\"12 Main St\"\r\n" +
			"X2,Zoë,Ng,\"Head of \"\"Ops\"\"\",Hauptstraße 5\r\n"
		run := e.mustImport(t, file, sources.ImportOptions{})
		if run.Created != 2 {
			t.Fatalf("run = %+v", run)
		}
		es := e.employees(t)
		if x := es["X1"]; x == nil || x.Identity.FirstName != "Anne, Marie" || x.Identity.LastName != "O\"Brien" ||
			x.Contact.HomeAddress.Line1 != "12 Main St" {
			t.Errorf("X1 = %+v", x)
		}
		if x := es["X2"]; x == nil || x.Identity.FirstName != "Zoë" || x.Employment.JobTitle != "Head of \"Ops\"" {
			t.Errorf("X2 = %+v", x)
		}
	})
}

func TestImport_UntrustedInput(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, tc := range []struct {
		name, file, column string
	}{
		{"ErrFormulaEquals", "remote_id,first_name,last_name\nA,\"=HYPERLINK(\"\"http://x\"\")\",B\n", "first_name"},
		{"ErrFormulaAt", "remote_id,first_name,last_name\nA,@SUM(1),B\n", "first_name"},
		{"ErrFormulaPlus", "remote_id,first_name,last_name\nA,B,+cmd|' /C calc'!A0\n", "last_name"},
		{"ErrFormulaAfterTab", "remote_id,first_name,last_name\nA,\t-2+3,B\n", "first_name"},
		{"ErrControlChar", "remote_id,first_name,last_name\nA,\"Ada\nLovelace\",B\n", "first_name"},
		{"ErrC1Control", "remote_id,first_name,last_name\nA,Ad\u0085a,B\n", "first_name"},
		{"ErrNotUTF8", "remote_id,first_name,last_name\nA,Ad\xffa,B\n", "first_name"},
		{"ErrBidiOverride", "remote_id,first_name,last_name\nA,Ada\u202e,B\n", "first_name"},
		{"ErrTooLong", "remote_id,first_name,last_name\nA," + strings.Repeat("a", 101) + ",B\n", "first_name"},
		{"ErrCurrency", "remote_id,pay_currency\nA,EURO\n", "pay_currency"},
		{"ErrCountry", "remote_id,home_address_country\nA,UK\n", "home_address_country"},
		{"ErrPhoneLetters", "remote_id,phone\nA,+1 CALL NOW\n", "phone"},
		{"ErrNegativePay", "remote_id,pay_rate\nA,-5\n", "pay_rate"},
		{"ErrRemoteIDMissing", "remote_id,first_name,last_name\n,Ada,B\n", "remote_id"},
		{"ErrDuplicateRemoteID", "remote_id,first_name,last_name\nA,Ada,B\nA,Ada,C\n", "remote_id"},
		{"ErrTerminationBeforeStart", "remote_id,start_date,termination_date\nA,2024-05-01,2024-04-30\n", "termination_date"},
		{"ErrRoutingChecksum", "remote_id,routing_number\nA,021000022\n", "routing_number"},
		{"ErrNationalIDWithoutType", "remote_id,national_id\nA,123-45-6789\n", "national_id_type"},
		{"ErrUnknownColumn", "remote_id,frist_name\nA,Ada\n", "frist_name"},
		{"ErrFieldCount", "remote_id,first_name,last_name\nA,Ada\n", ""},
		{"ErrBareQuote", "remote_id,first_name,last_name\nA,Ad\"a,B\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := e.importCSV(t, tc.file, sources.ImportOptions{})
			if !errors.Is(err, sources.ErrRejected) {
				t.Fatalf("err = %v, want a rejection", err)
			}
			if len(run.Problems) == 0 || run.Problems[0].Column != tc.column {
				t.Errorf("problems = %+v, want column %q", run.Problems, tc.column)
			}
		})
	}
	if n, _ := e.db.CountEmployees(context.Background(), hrgate.AllCompanies); n != 0 {
		t.Errorf("%d employees stored from bad files", n)
	}
	t.Run("OKPhoneAndAmountWithSign", func(t *testing.T) {
		run := e.mustImport(t, "remote_id,first_name,last_name,phone,iban\nA,Ada,Lovelace,+49 30 1234567,gb82 west 1234 5698 7654 32\n", sources.ImportOptions{})
		if run.Created != 1 {
			t.Fatalf("run = %+v", run)
		}
		if got := e.employees(t)["A"]; got.Contact.Phone != "+49 30 1234567" || got.Banking.IBAN != "GB82WEST12345698765432" {
			t.Errorf("normalised = %q, %q", got.Contact.Phone, got.Banking.IBAN)
		}
	})
	t.Run("OKAmountLeadingZeros", func(t *testing.T) {
		e.mustImport(t, "remote_id,first_name,last_name,pay_rate\nZ1,Ada,Lovelace,085000.50\nZ2,Bo,Li,000.5\nZ3,Cy,Ng,0\n", sources.ImportOptions{})
		// The API writes pay_rate as a JSON number: a leading zero would
		// make it answer null.
		got := e.employees(t)
		if a, b, c := got["Z1"].Compensation.PayRate, got["Z2"].Compensation.PayRate, got["Z3"].Compensation.PayRate; a != "85000.50" || b != "0.5" || c != "0" {
			t.Errorf("pay rates = %q, %q, %q; want 85000.50, 0.5, 0", a, b, c)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		run, err := e.importCSV(t, goodFile(50), sources.ImportOptions{MaxBytes: 1000})
		if !errors.Is(err, sources.ErrRejected) || !strings.Contains(run.Problems[len(run.Problems)-1].Message, "larger than 1000 bytes") {
			t.Errorf("err = %v, run = %+v", err, run)
		}
	})
}

func TestImport_Mapping(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	m, err := sources.ParseMapping(strings.NewReader("columns:\n  Personalnummer: remote_id\n  Vorname: first_name\n  Nachname: last_name\n  Gehalt: pay_rate\nignore: [Kostenstelle]\n"))
	if err != nil {
		t.Fatal(err)
	}
	run := e.mustImport(t, "Personalnummer,Vorname,Nachname,Gehalt,Kostenstelle\n42,Grace,Hopper,70000,K1\n", sources.ImportOptions{Mapping: m})
	if run.Created != 1 {
		t.Fatalf("run = %+v", run)
	}
	if got := e.employees(t)["42"]; got.Identity.FirstName != "Grace" || got.Compensation.PayRate != "70000" {
		t.Errorf("employee = %+v", got)
	}
	for name, bad := range map[string]string{
		"ErrUnknownField":   "columns:\n  A: remote_id\n  B: salary\n",
		"ErrNoRemoteID":     "columns:\n  B: first_name\n",
		"ErrTwoColumnsOne":  "columns:\n  A: remote_id\n  B: first_name\n  C: first_name\n",
		"ErrUnknownKey":     "columns:\n  A: remote_id\nignored: [x]\n",
		"ErrNotYAMLMapping": "- a\n- b\n",
	} {
		if _, err := sources.ParseMapping(strings.NewReader(bad)); hrgate.ErrorCode(err) != hrgate.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
	}
	// The refusals name the line and the key, not the Go type decoded
	// into, and a secret pasted as a column or key is named, not quoted.
	const key = "hrg_live_0123456789abcdef0123456789abcdef01234567"
	for bad, want := range map[string]string{
		"columns:\n  A: remote_id\nignored: [x]\n":                               `line 3: unknown key "ignored"`,
		"columns:\n  A: remote_id\n" + key + ": 1\n":                             "line 3: unknown key ",
		"columns:\n  " + key + ": remote_id\n  B: salary\n":                      `column "B" to "salary"`,
		"columns:\n  A: remote_id\n  " + key + ": first_name\n  C: first_name\n": `"(an API key, not repeated)" to first_name`,
	} {
		_, err := sources.ParseMapping(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), key[:12]) || strings.Contains(err.Error(), "sources.") {
			t.Errorf("mapping %q: %v; want it to say %q, without the key or a Go type", bad, err, want)
		}
	}
	// A file's header is named the same way in the run's problems, which
	// are stored and shown: an unknown column, a column named twice.
	for _, tc := range []struct {
		file string
		opts sources.ImportOptions
	}{
		{"remote_id,first_name,last_name," + key + "\n1,Ada,Lovelace,x\n", sources.ImportOptions{}},
		{"remote_id,first_name,last_name," + key + "," + key + "\n1,Ada,Lovelace,x,x\n", sources.ImportOptions{}},
	} {
		run, err := e.importCSV(t, tc.file, tc.opts)
		if !errors.Is(err, sources.ErrRejected) || len(run.Problems) == 0 {
			t.Fatalf("header with a key: err = %v, run = %+v", err, run)
		}
		named := false
		for _, p := range run.Problems {
			if strings.Contains(p.Column+p.Message, key[:12]) {
				t.Errorf("header with a key: problem %+v repeats it", p)
			}
			named = named || p.Column == "(an API key, not repeated)"
		}
		if !named {
			t.Errorf("header with a key: no problem names the column: %+v", run.Problems)
		}
	}
}

func TestImport_OnlyCSVSources(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	if _, _, err := e.svc.Create(context.Background(), "entra", "acme", hrgate.SourceSCIM); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.ImportCSV(context.Background(), "entra", strings.NewReader(goodFile(1)), sources.ImportOptions{})
	if hrgate.ErrorCode(err) != hrgate.EINVALID {
		t.Errorf("import into a SCIM source: %v, want EINVALID", err)
	}
}

func TestImport_RestrictedGroupsEncrypted(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.mustImport(t, goodFile(3), sources.ImportOptions{})
	changed := strings.Replace(goodFile(3), row(2, "85000.00"), row(2, "91234.56"), 1)
	e.mustImport(t, changed, sources.ImportOptions{})
	dump := storetest.Dump(t, e.dsn)
	for _, secret := range []string{"DE89370400440532013000", "85000.00", "91234.56"} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Errorf("%s is stored in the clear", secret)
		}
	}
	if !bytes.Contains(dump, []byte("Lovelace")) {
		t.Error("the dump check finds nothing: identity, stored in the clear, is missing")
	}
}

// TestImport_ErasedNotBroughtBack: a source that sends an erased
// employee's remote id again is refused, row by row, and the erasure
// stands; a snapshot that omits the erased employee does not trip on it.
func TestImport_ErasedNotBroughtBack(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.mustImport(t, goodFile(2), sources.ImportOptions{})
		erased := e.employees(t)["E001"]
		if err := e.db.EraseEmployee(context.Background(), erased.ID); err != nil {
			t.Fatal(err)
		}
		run, err := e.importCSV(t, goodFile(2), sources.ImportOptions{})
		if !errors.Is(err, sources.ErrRejected) || run.Rejected != 1 || len(run.Problems) != 1 ||
			run.Problems[0].Row != 1 || !strings.Contains(run.Problems[0].Message, "erased") {
			t.Fatalf("err = %v, run = %+v", err, run)
		}
		if got := e.employees(t); got["E001"] != nil || got["E002"] == nil {
			t.Errorf("after the refused import: %v", got)
		}
		run = e.mustImport(t, header+row(2, "85000.00"), sources.ImportOptions{Mode: sources.ModeSnapshot})
		if run.Terminated != 0 || run.Unchanged != 1 {
			t.Errorf("snapshot without the erased employee: %+v", run)
		}
	})
}

// A re-import of a file larger than a batch, through a store whose
// keyring has none of the data keys cached (another instance), reads
// every key back while it reads the rows, and finds the one change.
func TestImport_LargeReimportColdKeys(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		const n = 1200
		e.mustImport(t, goodFile(n), sources.ImportOptions{})
		other := storetest.Open(t, e.dsn)
		svc := sources.New(other, sources.WithClock(func() time.Time { return e.now }))
		changed := strings.Replace(goodFile(n), row(1100, "85000.00"), row(1100, "91000.00"), 1)
		run, err := svc.ImportCSV(context.Background(), "payroll", strings.NewReader(changed), sources.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if run.Updated != 1 || run.Unchanged != n-1 {
			t.Fatalf("run = %+v, want 1 updated, %d unchanged", run, n-1)
		}
		if got := e.employees(t)["E1100"]; got.Compensation.PayRate != "91000.00" || got.Identity.FirstName != "Ada1100" {
			t.Fatalf("E1100 after the re-import = %+v", got)
		}
	})
}
