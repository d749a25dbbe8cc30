package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/gate"
	"github.com/hrgate/hrgate/internal/cputime"
	"github.com/hrgate/hrgate/sources"
	"github.com/hrgate/hrgate/sqlstore"
	"github.com/hrgate/hrgate/webhooks"
)

// The targets: at least 2,000 signed deliveries a second to
// local receivers, and a change reaching its receiver within 1 s at the
// 99th percentile under a steady 100 changes a second.

// benchReceiver verifies every delivery with the official library and
// notes when each event arrived.
type benchReceiver struct {
	srv *httptest.Server
	wh  *standardwebhooks.Webhook

	mu      sync.Mutex
	count   int
	arrived map[string]time.Time // by the payload's employee id
	done    chan struct{}
	want    int
	failed  bool
}

func newBenchReceiver(tb testing.TB) *benchReceiver {
	r := &benchReceiver{arrived: map[string]time.Time{}, done: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if r.wh.Verify(body, req.Header) != nil {
			r.mu.Lock()
			r.failed = true
			r.mu.Unlock()
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct{ Data struct{ ID string } }
		_ = json.Unmarshal(body, &p)
		now := time.Now()
		r.mu.Lock()
		r.count++
		if _, seen := r.arrived[p.Data.ID]; !seen {
			r.arrived[p.Data.ID] = now
		}
		if r.count == r.want {
			close(r.done)
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

// webhookBenchEnv is a fresh encrypted SQLite store with a company, a CSV
// source, a consumer and the services.
func webhookBenchEnv(tb testing.TB) (*sqlstore.DB, *sources.Service, *webhooks.Service) {
	tb.Helper()
	ctx := context.Background()
	db, src := csvEnv(tb, "people")
	if _, err := gate.New(db).CreateConsumer(ctx, "payroll", "", []string{"employees:read:identity,employment,compensation companies:*"}); err != nil {
		tb.Fatal(err)
	}
	// The receivers listen on loopback, which endpoints may reach only
	// where webhooks.allowed_networks lists it.
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	return db, src, webhooks.New(db, webhooks.WithAllowedNetworks(loopback))
}

func benchImport(tb testing.TB, src *sources.Service, csv string) {
	tb.Helper()
	if run, err := src.ImportCSV(context.Background(), "people", strings.NewReader(csv), sources.ImportOptions{}); err != nil {
		tb.Fatalf("import: %v (%+v)", err, run)
	}
}

func benchWorker(tb testing.TB, db *sqlstore.DB, workers int) *webhooks.Worker {
	tb.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = workers
	w, err := webhooks.NewWorker(db, webhooks.WorkerConfig{Client: &http.Client{Transport: tr}, Workers: workers, PollInterval: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// BenchmarkWebhookDeliveries measures signed deliveries a second, from
// the fan-out of queued change events to the last 2xx, to one receiver
// and to 50.
func BenchmarkWebhookDeliveries(b *testing.B) {
	const deliveries = 10000
	for _, endpoints := range []int{1, 50} {
		b.Run(fmt.Sprintf("endpoints=%d", endpoints), func(b *testing.B) {
			var (
				total time.Duration
				cpu   time.Duration
			)
			for range b.N {
				b.StopTimer()
				db, src, svc := webhookBenchEnv(b)
				var receivers []*benchReceiver
				for range endpoints {
					r := newBenchReceiver(b)
					_, secret, err := svc.Create(context.Background(), webhooks.EndpointRequest{Consumer: "payroll", URL: r.srv.URL,
						EventTypes: []string{hrgate.ChangeEmployeeCreated}, AllowHTTP: true})
					if err != nil {
						b.Fatal(err)
					}
					if r.wh, err = standardwebhooks.NewWebhook(secret); err != nil {
						b.Fatal(err)
					}
					r.want = deliveries / endpoints
					receivers = append(receivers, r)
				}
				var csv strings.Builder
				csv.WriteString("remote_id,first_name,last_name,job_title,pay_rate,pay_period,pay_currency,pay_frequency\n")
				for i := range deliveries / endpoints {
					fmt.Fprintf(&csv, "r%d,Ada%d,Lovelace,Engineer,%d.00,year,EUR,monthly\n", i, i, 50000+i)
				}
				benchImport(b, src, csv.String())
				w := benchWorker(b, db, 64)
				ctx, cancel := context.WithCancel(context.Background())
				stopped := make(chan struct{})
				b.StartTimer()
				start, startCPU := time.Now(), cputime.Process()
				go func() { w.Run(ctx); close(stopped) }()
				for _, r := range receivers {
					select {
					case <-r.done:
					case <-time.After(5 * time.Minute):
						b.Fatalf("only %d of %d deliveries arrived", r.count, r.want)
					}
				}
				total += time.Since(start)
				cpu += cputime.Process() - startCPU
				b.StopTimer()
				cancel()
				<-stopped
				for _, r := range receivers {
					if r.failed {
						b.Fatal("a delivery did not verify")
					}
				}
			}
			b.ReportMetric(float64(deliveries*b.N)/total.Seconds(), "deliveries/s")
			// CPU time per delivery, receivers' verification included: on a
			// shared machine it says what the wall-clock rate cannot.
			b.ReportMetric(float64(cpu.Microseconds())/float64(deliveries*b.N), "cpu-µs/delivery")
		})
	}
}

// BenchmarkWebhookLatency measures the time from a committed change (a
// one-row CSV import returning) to its delivery, under a steady 100
// changes a second, with the worker woken by the commit.
func BenchmarkWebhookLatency(b *testing.B) {
	const (
		rate    = 100
		changes = 500 // five seconds at 100/s
	)
	var all []time.Duration
	for range b.N {
		b.StopTimer()
		db, src, svc := webhookBenchEnv(b)
		r := newBenchReceiver(b)
		r.want = changes
		_, secret, err := svc.Create(context.Background(), webhooks.EndpointRequest{Consumer: "payroll", URL: r.srv.URL,
			EventTypes: []string{hrgate.ChangeEmployeeCreated}, AllowHTTP: true})
		if err != nil {
			b.Fatal(err)
		}
		if r.wh, err = standardwebhooks.NewWebhook(secret); err != nil {
			b.Fatal(err)
		}
		w := benchWorker(b, db, 16)
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { w.Run(ctx); close(stopped) }()
		b.StartTimer()
		committed := make(map[string]time.Time, changes)
		tick := time.NewTicker(time.Second / rate)
		for i := range changes {
			<-tick.C
			benchImport(b, src, fmt.Sprintf("remote_id,first_name,last_name\nr%d,Ada,Lovelace\n", i))
			committed[fmt.Sprintf("r%d", i)] = time.Now()
		}
		tick.Stop()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			b.Fatalf("only %d of %d changes delivered", r.count, changes)
		}
		b.StopTimer()
		cancel()
		<-stopped
		// The receiver knows employees by id, the test by remote id:
		// read the mapping back.
		es, err := db.FindEmployees(context.Background(), hrgate.EmployeeFilter{Scope: hrgate.AllCompanies, Groups: 0, Page: hrgate.Page{Limit: changes + 1}})
		if err != nil || len(es) != changes {
			b.Fatalf("%d employees (%v)", len(es), err)
		}
		r.mu.Lock()
		for _, e := range es {
			at, ok := r.arrived[e.ID]
			if !ok {
				b.Fatalf("employee %s never delivered", e.ID)
			}
			all = append(all, at.Sub(committed[e.RemoteID]))
		}
		r.mu.Unlock()
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
