package http_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
	hrhttp "github.com/hrgate/hrgate/http"
)

// cutProxy forwards TCP connections to a Redis and can cut them all,
// standing in for a Redis that goes away without stopping the machine's
// shared one.
type cutProxy struct {
	ln       net.Listener
	upstream string
	cut      atomic.Bool
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startCutProxy(t *testing.T, upstream string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, conns: make(map[net.Conn]bool)}
	t.Cleanup(func() {
		_ = ln.Close()
		p.drop()
	})
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
		go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
	}
}

// down cuts every connection and refuses new ones until up.
func (p *cutProxy) down() { p.cut.Store(true); p.drop() }
func (p *cutProxy) up()   { p.cut.Store(false) }

func (p *cutProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// TestRedisOutage cuts one of two instances off Redis while it serves:
// no request fails with anything but 429, that instance limits locally
// with its share of the quota, and once Redis is reachable again it counts
// in Redis again, where the other instance's requests are.
func TestRedisOutage(t *testing.T) {
	redisURL := testRedisURL(t)
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.ln.Addr().String()

	db, g, key := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.Limits.Instances = 2
	cfg.Limits.Credential = config.RateLimit{Quota: "1000/day"}
	// Only the quota, so that the headers describe it.
	cfg.Limits.Consumer, cfg.Limits.Global = config.RateLimit{}, config.RateLimit{}
	fa := redisLimiter(t, viaProxy.String(), 2)
	a, _ := startLimited(t, cfg, db, g, fa)
	b, _ := startLimited(t, cfg, db, g, redisLimiter(t, redisURL, 2))
	ca, cb := tlsClient(t, a.CertFile, nil), tlsClient(t, b.CertFile, nil)
	get := func(srv *hrhttp.Server, c *http.Client) response {
		t.Helper()
		return call(t, c, http.MethodGet, srv.URL()+"/v1/companies", key)
	}
	remaining := func(r response) int {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		n, err := strconv.Atoi(r.header.Get("RateLimit-Remaining"))
		if err != nil {
			t.Fatalf("RateLimit-Remaining %q", r.header.Get("RateLimit-Remaining"))
		}
		return n
	}

	for range 5 {
		get(a, ca)
		get(b, cb)
	}
	if n := remaining(get(a, ca)); n != 1000-11 {
		t.Fatalf("shared through Redis: %d remaining, want %d", n, 1000-11)
	}

	proxy.down()
	var wg sync.WaitGroup
	var other atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				if r := get(a, ca); r.status != http.StatusOK && r.status != http.StatusTooManyRequests {
					other.Add(1)
					t.Errorf("during the outage: %d %s", r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	if st := fa.Stats(); !st.Down || st.Outages < 1 || st.Fallbacks < 100 {
		t.Fatalf("the fallback did not engage: %+v", st)
	}
	// Locally, the instance has its share of the quota: half.
	if r := get(a, ca); r.header.Get("RateLimit-Limit") != "500" {
		t.Fatalf("during the outage: RateLimit-Limit %q, want 500 (1000 over 2 instances)", r.header.Get("RateLimit-Limit"))
	}
	get(b, cb) // the other instance still counts in Redis: 12 there

	proxy.up()
	deadline := time.Now().Add(30 * time.Second)
	for fa.Stats().Down {
		if time.Now().After(deadline) {
			t.Fatal("the failover did not return to Redis after the proxy was restored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Back in Redis: the count continues from what both instances
	// recorded there (11 + 1), not from the local one.
	r := get(a, ca)
	if got := r.header.Get("RateLimit-Limit"); got != "1000" {
		t.Fatalf("after the outage: RateLimit-Limit %q, want the shared 1000", got)
	}
	if n := remaining(r); n != 1000-13 {
		t.Fatalf("after the outage: %d remaining, want %d (the shared count)", n, 1000-13)
	}
}
