package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/oapitest"
	"github.com/hrgate/hrgate/internal/stdwebhook"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
)

// sourcesEnv is a public server with sources, limits and a clock of its
// own, on one live company (acme), one other live company and one
// sandbox company.
type sourcesEnv struct {
	db      *sqlstore.DB
	srv     *hrhttp.Server
	svc     *sources.Service
	client  *http.Client
	clock   *testClock
	doc     *oapitest.Doc
	webhook *hrgate.Source
	secret  string
	scim    *hrgate.Source
	csv     *hrgate.Source
	sandbox *hrgate.Source // a CSV source of the sandbox company
	// dataDir is the server's data directory, where an import's
	// temporary file lives while it runs.
	dataDir string
	// Keys: sources:write and sources:read on acme (live and test), read
	// only, and write on the other company.
	importer, importerTest, reader, stranger string
}

func mustOpenSourcesEnv(t *testing.T, dsn string) *sourcesEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	var cos []*hrgate.Company
	for _, c := range []struct {
		slug    string
		sandbox bool
	}{{"acme", false}, {"globex", false}, {"sandbox-co", true}} {
		id, err := hrgate.NewID(hrgate.PrefixCompany, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		cos = append(cos, &hrgate.Company{ID: id, Slug: c.slug, Name: c.slug, Country: "DE", Sandbox: c.sandbox, CreatedAt: clk.t, ModifiedAt: clk.t})
	}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: cos}); err != nil {
		t.Fatal(err)
	}
	e := &sourcesEnv{db: db, clock: clk, doc: loadDoc(t)}
	e.svc = sources.New(db, sources.WithClock(clk.now))
	var cred sources.Credential
	var err error
	if e.webhook, cred, err = e.svc.Create(ctx, "hris", "acme", hrgate.SourceWebhook); err != nil {
		t.Fatal(err)
	}
	e.secret = cred.Secret
	if e.scim, _, err = e.svc.Create(ctx, "idp", "acme", hrgate.SourceSCIM); err != nil {
		t.Fatal(err)
	}
	if e.csv, _, err = e.svc.Create(ctx, "payroll", "acme", hrgate.SourceCSV); err != nil {
		t.Fatal(err)
	}
	if e.sandbox, _, err = e.svc.Create(ctx, "demo", "sandbox-co", hrgate.SourceCSV); err != nil {
		t.Fatal(err)
	}
	g := gate.New(db, gate.WithClock(clk.now))
	mustConsumer(t, g, "importer", "sources:write sources:read companies:acme,sandbox-co")
	mustConsumer(t, g, "auditor", "sources:read companies:acme")
	mustConsumer(t, g, "stranger", "sources:write sources:read companies:globex")
	e.importer, e.importerTest = mustKey(t, g, "importer", false), mustKey(t, g, "importer", true)
	e.reader, e.stranger = mustKey(t, g, "auditor", false), mustKey(t, g, "stranger", false)

	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	e.dataDir = cfg.DataDir
	cfg.HTTP.Addr = "127.0.0.1:0"
	// Room for the refusals the tests make on purpose before the one
	// that tests the lockout.
	cfg.Limits.BruteForce.Threshold = 30
	lim, err := hrhttp.NewLimits(cfg.Limits, limits.NewMemory(nil), slog.New(slog.DiscardHandler), clk.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lim.Close() })
	e.srv, err = hrhttp.NewServer(ctx, cfg, db, g, slog.New(slog.DiscardHandler), hrhttp.WithSources(e.svc), hrhttp.WithLimits(lim))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.srv.Close() })
	e.client = tlsClient(t, e.srv.CertFile, nil)
	return e
}

// send performs a request with a body, validates the answer against the
// public OpenAPI document and returns it. hdr are name/value pairs.
func (e *sourcesEnv) send(t *testing.T, method, path, key, contentType string, body []byte, hdr ...string) response {
	t.Helper()
	return sendTo(t, e.client, e.doc, e.srv.URL(), method, path, key, contentType, body, hdr...)
}

func sendTo(t *testing.T, c *http.Client, doc *oapitest.Doc, base, method, path, key, contentType string, body []byte, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc.Validate(t, resp, b)
	return response{resp.StatusCode, resp.Header, b}
}

// signed returns the Standard Webhooks headers of a message, signed by
// the official library with secret at ts.
func signed(t *testing.T, secret, id string, ts time.Time, body []byte) []string {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"webhook-id", id, "webhook-timestamp", strconv.FormatInt(ts.Unix(), 10), "webhook-signature", sig}
}

func (e *sourcesEnv) postEvent(t *testing.T, srcID string, body []byte, hdr []string) response {
	t.Helper()
	return e.send(t, http.MethodPost, "/v1/sources/"+srcID+"/events", "", "application/json", body, hdr...)
}

func (e *sourcesEnv) changeEvents(t *testing.T) []*hrgate.ChangeEvent {
	t.Helper()
	evs, err := e.db.ChangeEvents(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func (e *sourcesEnv) runCount(t *testing.T, src *hrgate.Source) int {
	t.Helper()
	rs, err := e.svc.Runs(context.Background(), src.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

var requestIDRE = regexp.MustCompile(`"request_id":"req_[0-9a-f]+"`)

// withoutRequestID returns a problem body with its request id blanked,
// for comparing answers.
func withoutRequestID(b []byte) string {
	return requestIDRE.ReplaceAllString(string(b), `"request_id":""`)
}

func TestSourceEvents(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := mustOpenSourcesEnv(t, dsn(t))
			body := []byte(`{"type":"employee.upsert","timestamp":"2026-11-20T09:00:00Z","data":{"remote_id":"W-1","first_name":"Ada",` +
				`"last_name":"Lovelace","pay_rate":85000,"pay_currency":"EUR","pay_period":"year","phone":null}}`)

			t.Run("AcceptedOnce", func(t *testing.T) {
				hdr := signed(t, e.secret, "msg_once", e.clock.t, body)
				first := e.postEvent(t, e.webhook.ID, body, hdr)
				var o map[string]any
				if err := json.Unmarshal(first.body, &o); err != nil || first.status != 200 {
					t.Fatalf("first delivery: %d %s", first.status, first.body)
				}
				if o["change"] != "created" || !hrgate.ValidID(hrgate.PrefixEmployee, o["employee_id"].(string)) ||
					first.header.Get("Hrgate-Replayed") != "" {
					t.Fatalf("first delivery: %s %v", first.body, first.header)
				}
				evs := e.changeEvents(t)
				if len(evs) != 1 || evs[0].Type != hrgate.ChangeEmployeeCreated || evs[0].EmployeeID != o["employee_id"] {
					t.Fatalf("change events: %+v", evs)
				}
				emp, err := e.db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, ID: evs[0].EmployeeID,
					Groups: hrgate.AllGroups, Page: hrgate.Page{Limit: 1}})
				if err != nil || len(emp) != 1 || emp[0].Compensation.PayRate != "85000" || emp[0].Identity.FirstName != "Ada" {
					t.Fatalf("stored: %v %+v", err, emp)
				}

				// The same message again, within the window: the same
				// answer, and nothing applied or recorded again.
				e.clock.t = e.clock.t.Add(time.Minute)
				again := e.postEvent(t, e.webhook.ID, body, hdr)
				if again.status != 200 || !bytes.Equal(again.body, first.body) || again.header.Get("Hrgate-Replayed") != "true" {
					t.Fatalf("replay: %d %s %v", again.status, again.body, again.header)
				}
				if n := len(e.changeEvents(t)); n != 1 {
					t.Fatalf("%d change events after a replay", n)
				}
				if n := e.runCount(t, e.webhook); n != 1 {
					t.Fatalf("%d runs after a replay", n)
				}
			})

			t.Run("Refused", func(t *testing.T) {
				before, runs := len(e.changeEvents(t)), e.runCount(t, e.webhook)
				now := e.clock.t
				other := "whsec_" + strings.Repeat("A", 43) + "="
				bad := signed(t, e.secret, "msg_bad", now, body)
				bad[5] = "v1," + strings.Repeat("A", 43) + "="
				unknownID, err := hrgate.NewID(hrgate.PrefixSource, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				var answers []string
				for _, tc := range []struct {
					name, src string
					hdr       []string
				}{
					{"StaleTimestamp", e.webhook.ID, signed(t, e.secret, "msg_stale", now.Add(-6*time.Minute), body)},
					{"FutureTimestamp", e.webhook.ID, signed(t, e.secret, "msg_future", now.Add(6*time.Minute), body)},
					{"BadSignature", e.webhook.ID, bad},
					{"OtherSecret", e.webhook.ID, signed(t, other, "msg_other", now, body)},
					{"MissingHeaders", e.webhook.ID, nil},
					{"MissingSignature", e.webhook.ID, signed(t, e.secret, "msg_nosig", now, body)[:4]},
					{"SCIMSource", e.scim.ID, signed(t, e.secret, "msg_scim", now, body)},
					{"CSVSource", e.csv.ID, signed(t, e.secret, "msg_csv", now, body)},
					{"UnknownSource", unknownID, signed(t, e.secret, "msg_unknown", now, body)},
					{"MalformedSourceID", "hris", signed(t, e.secret, "msg_name", now, body)},
				} {
					r := e.postEvent(t, tc.src, body, tc.hdr)
					if r.status != http.StatusUnauthorized || problemType(t, r) != "urn:hrgate:problem:unauthorized" {
						t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
					}
					answers = append(answers, withoutRequestID(r.body))
				}
				for i, a := range answers {
					if a != answers[0] {
						t.Errorf("answer %d differs from the first: %s vs %s", i, a, answers[0])
					}
				}
				if n := len(e.changeEvents(t)); n != before {
					t.Fatalf("refused events wrote %d change events", n-before)
				}
				if n := e.runCount(t, e.webhook); n != runs {
					t.Fatalf("refused events recorded %d runs", n-runs)
				}
			})

			t.Run("OversizedBody", func(t *testing.T) {
				big := []byte(`{"type":"employee.upsert","data":{"remote_id":"` + strings.Repeat("x", 300<<10) + `"}}`)
				r := e.postEvent(t, e.webhook.ID, big, signed(t, e.secret, "msg_big", e.clock.t, big))
				if r.status != http.StatusRequestEntityTooLarge {
					t.Fatalf("declared oversized body: %d %s", r.status, r.body)
				}
				// Without a declared length the cap cuts the body off.
				req, err := http.NewRequest(http.MethodPost, e.srv.URL()+"/v1/sources/"+e.webhook.ID+"/events", io.MultiReader(bytes.NewReader(big)))
				if err != nil {
					t.Fatal(err)
				}
				req.ContentLength = -1
				req.Header.Set("Content-Type", "application/json")
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Fatalf("chunked oversized body: %d", resp.StatusCode)
				}
			})

			t.Run("BadPayload", func(t *testing.T) {
				for _, tc := range []struct {
					name, body string
					status     int
					want       string
				}{
					{"UnknownField", `{"type":"employee.upsert","data":{"remote_id":"W-2","frist_name":"Ada"}}`, 400, `frist_name`},
					{"UnknownType", `{"type":"employee.delete","data":{"remote_id":"W-2"}}`, 400, "Unknown event type"},
					{"UnknownMember", `{"type":"employee.upsert","data":{"remote_id":"W-2"},"extra":1}`, 400, "unknown field"},
					{"ObjectValue", `{"type":"employee.upsert","data":{"remote_id":"W-2","first_name":{"a":1}}}`, 400, "must be a string, a number or null"},
					{"NotJSON", `type=employee.upsert`, 400, "JSON"},
					{"BadValues", `{"type":"employee.upsert","data":{"remote_id":"W-2","first_name":"=cmd()","last_name":"L","work_email":"secret-value"}}`, 422, ""},
				} {
					id := "msg_payload_" + tc.name
					r := e.postEvent(t, e.webhook.ID, []byte(tc.body), signed(t, e.secret, id, e.clock.t, []byte(tc.body)))
					if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
						t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
					}
					if tc.status == 422 {
						var p struct {
							Type     string
							RunID    string `json:"run_id"`
							Problems []hrgate.RowProblem
						}
						if err := json.Unmarshal(r.body, &p); err != nil {
							t.Fatal(err)
						}
						cols := []string{}
						for _, pr := range p.Problems {
							cols = append(cols, pr.Column)
						}
						if p.Type != "urn:hrgate:problem:rejected" || p.RunID == "" || strings.Join(cols, ",") != "first_name,work_email" {
							t.Fatalf("%s: %s", tc.name, r.body)
						}
						if strings.Contains(string(r.body), "secret-value") || strings.Contains(string(r.body), "cmd()") {
							t.Fatalf("%s: the problem repeats a value: %s", tc.name, r.body)
						}
					}
				}
			})

			t.Run("TimeOff", func(t *testing.T) {
				body := []byte(`{"type":"time_off.upsert","data":{"remote_id":"T-1","employee_remote_id":"W-1","type":"vacation",` +
					`"status":"approved","start_date":"2026-12-21","end_date":"2026-12-24","amount":4,"units":"days"}}`)
				r := e.postEvent(t, e.webhook.ID, body, signed(t, e.secret, "msg_to1", e.clock.t, body))
				var o map[string]any
				if err := json.Unmarshal(r.body, &o); err != nil || r.status != 200 || o["change"] != "created" ||
					!hrgate.ValidID(hrgate.PrefixTimeOff, o["time_off_id"].(string)) {
					t.Fatalf("time off: %d %s", r.status, r.body)
				}
				evs := e.changeEvents(t)
				last := evs[len(evs)-1]
				if last.Type != hrgate.ChangeTimeOffCreated || last.TimeOffID != o["time_off_id"] {
					t.Fatalf("last event %+v", last)
				}
			})

			t.Run("BruteForceLocksTheAddressOut", func(t *testing.T) {
				var last response
				for i := range 31 {
					h := signed(t, e.secret, "msg_guess_"+strconv.Itoa(i), e.clock.t, body)
					h[5] = "v1," + strings.Repeat("B", 43) + "="
					last = e.postEvent(t, e.webhook.ID, body, h)
				}
				if last.status != http.StatusTooManyRequests || problemType(t, last) != "urn:hrgate:problem:locked_out" {
					t.Fatalf("after 31 bad signatures: %d %s", last.status, last.body)
				}
				// Locked out, even a good signature is not looked at.
				good := e.postEvent(t, e.webhook.ID, body, signed(t, e.secret, "msg_after", e.clock.t, body))
				if good.status != http.StatusTooManyRequests {
					t.Fatalf("a good signature from a locked-out address: %d", good.status)
				}
			})
		})
	}
}

// The signature hrgate's own signer makes is accepted too: senders that
// use any Standard Webhooks library interoperate.
func TestSourceEventsOwnSigner(t *testing.T) {
	e := mustOpenSourcesEnv(t, storetest.SQLite(t))
	key, err := stdwebhook.ParseSecret(e.secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"employee.upsert","data":{"remote_id":"W-9","first_name":"Grace","last_name":"Hopper"}}`)
	h := http.Header{}
	stdwebhook.SetHeaders(h, [][]byte{key}, "msg_own", e.clock.t, body)
	r := e.postEvent(t, e.webhook.ID, body, []string{"webhook-id", h.Get("webhook-id"), "webhook-timestamp", h.Get("webhook-timestamp"),
		"webhook-signature", h.Get("webhook-signature")})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// threeBadRows is a file of ten rows of which rows 2, 5 and 9 are bad.
func threeBadRows() string {
	var b strings.Builder
	b.WriteString("remote_id,first_name,last_name,work_email,pay_rate,pay_currency,pay_period\n")
	for i := 1; i <= 10; i++ {
		email, rate, cur := "p"+strconv.Itoa(i)+"@example.com", "50000", "EUR"
		switch i {
		case 2:
			email = "not-an-address"
		case 5:
			rate = "-1"
		case 9:
			cur = "XXX"
		}
		b.WriteString("R" + strconv.Itoa(i) + ",Ada,Lovelace," + email + "," + rate + "," + cur + ",year\n")
	}
	return b.String()
}

func goodCSV() string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(threeBadRows(), "not-an-address", "p2@example.com"), ",-1,", ",1,"), "XXX", "EUR")
}

func TestSourceImports(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			e := mustOpenSourcesEnv(t, dsn(t))
			imports := "/v1/sources/" + e.csv.ID + "/imports"

			bad := e.send(t, http.MethodPost, imports, e.importer, "text/csv", []byte(threeBadRows()))
			var p struct {
				Type     string
				RunID    string `json:"run_id"`
				Problems []hrgate.RowProblem
			}
			if err := json.Unmarshal(bad.body, &p); err != nil || bad.status != http.StatusUnprocessableEntity || p.Type != "urn:hrgate:problem:rejected" {
				t.Fatalf("three bad rows: %d %s", bad.status, bad.body)
			}
			var rows []int
			for _, pr := range p.Problems {
				rows = append(rows, pr.Row)
			}
			if got := strings.Trim(strings.ReplaceAll(fmtInts(rows), " ", ","), "[]"); got != "2,5,9" {
				t.Fatalf("problem rows %v, want 2, 5, 9: %s", rows, bad.body)
			}
			if n := len(e.changeEvents(t)); n != 0 {
				t.Fatalf("a refused file wrote %d events", n)
			}

			e.clock.t = e.clock.t.Add(time.Second) // runs list newest first
			good := e.send(t, http.MethodPost, imports+"?mode=upsert", e.importer, "text/csv; charset=utf-8", []byte(goodCSV()))
			var run hrgate.SyncRun
			if err := json.Unmarshal(good.body, &run); err != nil || good.status != http.StatusCreated || run.Status != hrgate.RunSucceeded || run.Created != 10 {
				t.Fatalf("good file: %d %s", good.status, good.body)
			}

			runs := e.send(t, http.MethodGet, "/v1/sources/"+e.csv.ID+"/runs?limit=5", e.reader, "", nil)
			var list struct{ Data []hrgate.SyncRun }
			if err := json.Unmarshal(runs.body, &list); err != nil || runs.status != 200 || len(list.Data) != 2 ||
				list.Data[0].ID != run.ID || list.Data[1].ID != p.RunID || list.Data[1].Rejected != 3 {
				t.Fatalf("runs: %d %s", runs.status, runs.body)
			}

			for _, tc := range []struct {
				name, method, path, key, ct string
				status                      int
			}{
				{"ReaderCannotImport", http.MethodPost, imports, e.reader, "text/csv", 403},
				{"StrangerSeesNoSource", http.MethodPost, imports, e.stranger, "text/csv", 404},
				{"StrangerSeesNoRuns", http.MethodGet, "/v1/sources/" + e.csv.ID + "/runs", e.stranger, "", 404},
				{"TestKeyCannotImportIntoLiveData", http.MethodPost, imports, e.importerTest, "text/csv", 404},
				{"TestKeyImportsIntoTheSandbox", http.MethodPost, "/v1/sources/" + e.sandbox.ID + "/imports", e.importerTest, "text/csv", 201},
				{"NotCSV", http.MethodPost, imports, e.importer, "application/json", 400},
				{"BadMode", http.MethodPost, imports + "?mode=merge", e.importer, "text/csv", 400},
				{"NotACSVSource", http.MethodPost, "/v1/sources/" + e.webhook.ID + "/imports", e.importer, "text/csv", 400},
				{"UnknownSource", http.MethodPost, "/v1/sources/src_nope/imports", e.importer, "text/csv", 404},
				{"NoKey", http.MethodPost, imports, "", "text/csv", 401},
			} {
				var body []byte
				if tc.method == http.MethodPost {
					body = []byte(goodCSV())
				}
				if r := e.send(t, tc.method, tc.path, tc.key, tc.ct, body); r.status != tc.status {
					t.Errorf("%s: %d %s", tc.name, r.status, r.body)
				}
			}
			// A file over the default body cap of 1 MiB, under the
			// import cap, is imported: imports have their own cap.
			var big strings.Builder
			big.WriteString("remote_id,first_name,last_name\n")
			for i := 0; big.Len() < 1200<<10; i++ {
				big.WriteString("B" + strconv.Itoa(i) + ",Grace,Hopper" + strings.Repeat("r", 40) + "\n")
			}
			if r := e.send(t, http.MethodPost, imports, e.importer, "text/csv", []byte(big.String())); r.status != http.StatusCreated {
				t.Fatalf("a 1.2 MB file: %d %s", r.status, r.body)
			}
			// The temporary files of the imports, taken, refused or
			// failed, are gone: each held HR data.
			if left, err := filepath.Glob(filepath.Join(e.dataDir, ".import-*")); err != nil || len(left) != 0 {
				t.Fatalf("temporary files left in the data directory: %v %v", left, err)
			}
		})
	}
}

func fmtInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestRemoveStaleImports: a temporary import file left by a process that
// died is deleted once it is old enough; a recent one (an import running
// in another process), other files and a link named like one are kept.
// A data directory whose name holds glob characters is no pattern.
func TestRemoveStaleImports(t *testing.T) {
	for _, tc := range []struct{ name, dir string }{
		{"OK", t.TempDir()},
		{"GlobInDirName", filepath.Join(t.TempDir(), "hr[1]*")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testRemoveStaleImports(t, tc.dir)
		})
	}
	// A data directory not made yet holds no files to remove.
	if n, err := hrhttp.RemoveStaleImports(filepath.Join(t.TempDir(), "none"), time.Hour, time.Now()); n != 0 || err != nil {
		t.Errorf("RemoveStaleImports(no directory) = %d, %v", n, err)
	}
}

func testRemoveStaleImports(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("remote_id\nr1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := write(".import-1.csv", 2*time.Hour)
	fresh := write(".import-2.csv", time.Minute)
	other := write("hrgate.db", 2*time.Hour)
	target := write("target.csv", 2*time.Hour)
	link := filepath.Join(dir, ".import-3.csv")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	n, err := hrhttp.RemoveStaleImports(dir, time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleImports = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("the stale import file is still there")
	}
	for _, p := range []string{fresh, other, target, link} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
}
