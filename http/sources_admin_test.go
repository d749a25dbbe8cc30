package http_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/gate"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/oapitest"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/sources"
)

// mustOpenAdminSources is an admin server with sources, on a store with
// the company acme.
func mustOpenAdminSources(t *testing.T, dsn string) *adminEnv {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, dsn)
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	co := &hrgate.Company{ID: "com_0000000000000000000000acme", Slug: "acme", Name: "Acme", Country: "DE", CreatedAt: clk.t, ModifiedAt: clk.t}
	if err := db.InsertBatch(ctx, &hrgate.Batch{Companies: []*hrgate.Company{co}}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Admin.Addr = "127.0.0.1:0"
	token, err := hrhttp.IssueAdminToken(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(db, gate.WithClock(clk.now))
	svc := sources.New(db, sources.WithClock(clk.now))
	srv, err := hrhttp.NewAdminServer(cfg, db, g, hrhttp.NewStoredTokenAuth(db), slog.New(slog.DiscardHandler), hrhttp.WithSources(svc))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	doc, err := oapitest.Load(hrhttp.AdminOpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	return &adminEnv{store: db, srv: srv, client: tlsClient(t, srv.CertFile, nil), token: token, gate: g, doc: doc, clock: clk}
}

func TestAdminSources(t *testing.T) {
	for name, dsn := range storetest.DSNs() {
		t.Run(name, func(t *testing.T) {
			a := mustOpenAdminSources(t, dsn(t))
			type src struct {
				ID, Name, Type, Token, Secret string
				CompanyID                     string `json:"company_id"`
				HasSecret                     bool   `json:"has_secret"`
				HasToken                      bool   `json:"has_token"`
			}
			created := map[string]src{}
			for _, typ := range []string{"scim", "webhook", "csv"} {
				var s src
				if status := a.call(t, "POST", "/admin/v1/sources", `{"name":"`+typ+`-src","company":"acme","type":"`+typ+`"}`, &s); status != 201 {
					t.Fatalf("create %s: %d %+v", typ, status, s)
				}
				switch {
				case typ == "scim" && (!hrgate.CheckSourceToken(s.Token) || s.Secret != "" || !s.HasToken):
					t.Fatalf("scim credential: %+v", s)
				case typ == "webhook" && (!strings.HasPrefix(s.Secret, "whsec_") || s.Token != "" || !s.HasSecret):
					t.Fatalf("webhook credential: %+v", s)
				case typ == "csv" && (s.Secret != "" || s.Token != ""):
					t.Fatalf("csv credential: %+v", s)
				}
				created[typ] = s
			}

			var list struct{ Data []src }
			if status := a.call(t, "GET", "/admin/v1/sources?company=acme", "", &list); status != 200 || len(list.Data) != 3 {
				t.Fatalf("list: %d %+v", status, list)
			}
			for _, s := range list.Data {
				if s.Token != "" || s.Secret != "" {
					t.Fatalf("a listed source shows its credential: %+v", s)
				}
			}
			var one src
			if status := a.call(t, "GET", "/admin/v1/sources/csv-src", "", &one); status != 200 || one.ID != created["csv"].ID {
				t.Fatalf("show by name: %d %+v", status, one)
			}

			csvID := created["csv"].ID
			var p struct {
				Type     string
				Problems []hrgate.RowProblem
			}
			if status := a.call(t, "POST", "/admin/v1/sources/"+csvID+"/imports", threeBadRows(), &p, "Content-Type", "text/csv"); status != 422 || len(p.Problems) != 3 {
				t.Fatalf("bad file: %d %+v", status, p)
			}
			a.clock.t = a.clock.t.Add(time.Second)
			var run hrgate.SyncRun
			if status := a.call(t, "POST", "/admin/v1/sources/csv-src/imports?mode=snapshot", goodCSV(), &run, "Content-Type", "text/csv"); status != 201 ||
				run.Created != 10 || run.Mode != "snapshot" {
				t.Fatalf("good file: %d %+v", status, run)
			}
			var runs struct{ Data []hrgate.SyncRun }
			if status := a.call(t, "GET", "/admin/v1/sources/"+csvID+"/runs?limit=10", "", &runs); status != 200 || len(runs.Data) != 2 || runs.Data[0].ID != run.ID {
				t.Fatalf("runs: %d %+v", status, runs)
			}

			for _, tc := range []struct {
				method, path, body string
				status             int
			}{
				{"POST", "/admin/v1/sources", `{"name":"csv-src","company":"acme","type":"csv"}`, 409},
				{"POST", "/admin/v1/sources", `{"name":"x","company":"nowhere","type":"csv"}`, 404},
				{"POST", "/admin/v1/sources", `{"name":"x","company":"acme","type":"ftp"}`, 400},
				{"POST", "/admin/v1/sources", `{"name":"Bad Name","company":"acme","type":"csv"}`, 400},
				{"POST", "/admin/v1/sources", `{"name":"x","type":"csv"}`, 400},
				{"GET", "/admin/v1/sources/nope", "", 404},
				{"GET", "/admin/v1/sources/" + csvID + "/runs?limit=0", "", 400},
			} {
				if status := a.call(t, tc.method, tc.path, tc.body, nil); status != tc.status {
					t.Errorf("%s %s %s: %d, want %d", tc.method, tc.path, tc.body, status, tc.status)
				}
			}

			// Rotation: the new credential is answered once, the old
			// one no longer authenticates; a CSV source has none.
			ctx := context.Background()
			var rot src
			if status := a.call(t, "POST", "/admin/v1/sources/scim-src/rotate-credential", "", &rot); status != 201 ||
				rot.ID != created["scim"].ID || !hrgate.CheckSourceToken(rot.Token) || rot.Token == created["scim"].Token || rot.Secret != "" {
				t.Fatalf("rotate the SCIM token: %d %+v", status, rot)
			}
			if _, err := a.store.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(created["scim"].Token)); hrgate.ErrorCode(err) != hrgate.ENOTFOUND {
				t.Errorf("the old SCIM token after rotation: %v", err)
			}
			if got, err := a.store.FindSourceByTokenHash(ctx, hrgate.HashSourceToken(rot.Token)); err != nil || got.ID != rot.ID {
				t.Errorf("the new SCIM token: %v, %v", got, err)
			}
			rot = src{}
			if status := a.call(t, "POST", "/admin/v1/sources/"+created["webhook"].ID+"/rotate-credential", "", &rot); status != 201 ||
				!strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == created["webhook"].Secret || rot.Token != "" {
				t.Fatalf("rotate the webhook secret: %d %+v", status, rot)
			}
			key, err := a.store.SourceSecret(ctx, rot.ID)
			if err != nil || "whsec_"+base64.StdEncoding.EncodeToString(key) != rot.Secret {
				t.Errorf("the stored webhook key is not the new secret's: %v", err)
			}
			for _, tc := range []struct {
				path   string
				status int
			}{{"/admin/v1/sources/csv-src/rotate-credential", 400}, {"/admin/v1/sources/nope/rotate-credential", 404}} {
				if status := a.call(t, "POST", tc.path, "", nil); status != tc.status {
					t.Errorf("POST %s: %d, want %d", tc.path, status, tc.status)
				}
			}

			if status := a.call(t, "DELETE", "/admin/v1/sources/"+csvID, "", nil); status != 204 {
				t.Fatalf("delete: %d", status)
			}
			if status := a.call(t, "GET", "/admin/v1/sources/"+csvID, "", nil); status != 404 {
				t.Fatalf("deleted source: %d", status)
			}
			if status := a.call(t, "DELETE", "/admin/v1/sources/"+csvID, "", nil); status != 404 {
				t.Fatalf("delete again: %d", status)
			}
			// Its employees stay.
			es, err := a.store.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Page: hrgate.Page{Limit: 100}})
			if err != nil || len(es) != 10 {
				t.Fatalf("employees after the delete: %v %d", err, len(es))
			}

			ops := a.doc.Operations()
			for _, r := range a.srv.Routes() {
				if !contains(ops, r) {
					t.Errorf("route %s is not in the admin OpenAPI document", r)
				}
			}
		})
	}
}

// Every route of the public server with sources is documented.
func TestSourceRoutesDocumented(t *testing.T) {
	e := mustOpenSourcesEnv(t, storetest.SQLite(t))
	ops := e.doc.Operations()
	for _, r := range e.srv.Routes() {
		if !contains(ops, r) {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
