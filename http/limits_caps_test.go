package http_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate/config"
	hrhttp "github.com/hrgate/hrgate/http"
	"github.com/hrgate/hrgate/internal/storetest"
	"github.com/hrgate/hrgate/limits"
)

// dialTLS opens a raw HTTP/1.1 connection to srv, for requests no
// well-behaved client would send.
func dialTLS(t *testing.T, srv *hrhttp.Server) *tls.Conn {
	t.Helper()
	pem, err := os.ReadFile(srv.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestSlowHeaders sends a request's headers one byte every 50 ms: the
// server cuts the connection at http.read_header_timeout, long before the
// headers are complete.
func TestSlowHeaders(t *testing.T) {
	db, g, _ := openLimitsDB(t)
	cfg := limitsConfig(t)
	cfg.HTTP.ReadHeaderTimeout = config.Duration(300 * time.Millisecond)
	srv, _ := startLimited(t, cfg, db, g, limits.NewMemory(nil))
	head := "GET /v1/companies HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Padding: slow\r\n", 100) + "\r\n"
	// Control: the same headers at once are a request like any other.
	fast := dialTLS(t, srv)
	if _, err := io.WriteString(fast, head); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(fast), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the headers sent at once: %v %v", resp, err)
	}

	// The clock starts before the dial: the server's header timer
	// starts when it first reads, after the handshake, so a start taken
	// after the dial could be later than the server's and see the cut a
	// few microseconds "early".
	start := time.Now()
	c := dialTLS(t, srv)
	// The server's side ends with the connection: whatever it writes
	// first (Go answers 408), then EOF.
	cut := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(c)
		cut <- string(b)
	}()
	for sent := 0; sent < len(head); sent++ {
		select {
		case answer := <-cut:
			if strings.HasPrefix(answer, "HTTP/1.1 2") {
				t.Fatalf("the server answered headers that never ended: %q", answer)
			}
			if waited := time.Since(start); waited < 300*time.Millisecond {
				t.Fatalf("cut off after %v, before the header timeout: %q", waited, answer)
			}
			t.Logf("cut off after %d of %d header bytes: %q", sent, len(head), firstLine(answer))
			return
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := c.Write([]byte{head[sent]}); err != nil {
			t.Logf("cut off after %d of %d header bytes: write: %v", sent, len(head), err)
			return
		}
	}
	t.Fatalf("the server read all %d header bytes sent one every 50 ms under a 300 ms header timeout", len(head))
}

// TestOversizedBody sends bodies over http.max_body_bytes to the token
// endpoint: a declared length is refused with 413 before a byte of the
// body is read, and an undeclared (chunked) one is read only up to the
// cap; in both cases the server closes the connection instead of reading
// the rest.
func TestOversizedBody(t *testing.T) {
	env := MustOpenEnv(t, storetest.SQLite(t))
	cfg := limitsConfig(t)
	cfg.HTTP.MaxBodyBytes = 4 << 10
	srv, _ := startLimited(t, cfg, env.store, env.gate, limits.NewMemory(nil))

	t.Run("Declared", func(t *testing.T) {
		c := dialTLS(t, srv)
		const declared = 1 << 30
		_, err := io.WriteString(c, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: 1073741824\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		// Not a byte of the body is sent, yet the answer comes.
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "urn:hrgate:problem:too_large") {
			t.Fatalf("declared %d bytes: %d %s", declared, resp.StatusCode, body)
		}
		sent, err := writeUntilRefused(c, declared)
		if err == nil {
			t.Fatalf("the server took all %d bytes of a refused body", declared)
		}
		t.Logf("after the 413 the connection took %d bytes, then: %v", sent, err)
	})

	t.Run("Undeclared", func(t *testing.T) {
		c := dialTLS(t, srv)
		_, err := io.WriteString(c, "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n")
		if err != nil {
			t.Fatal(err)
		}
		answered := make(chan *http.Response, 1)
		go func() {
			resp, _ := http.ReadResponse(bufio.NewReader(c), nil)
			answered <- resp
		}()
		const total = 1 << 30
		chunk := "1000\r\n" + strings.Repeat("a", 0x1000) + "\r\n"
		sent := 0
		var werr error
		for sent < total {
			if _, werr = io.WriteString(c, chunk); werr != nil {
				break
			}
			sent += 0x1000
		}
		if werr == nil {
			t.Fatalf("the server read all %d bytes of an undeclared body over a 4 KiB cap", total)
		}
		resp := <-answered
		if resp == nil || resp.StatusCode < 400 || resp.StatusCode >= 500 {
			t.Fatalf("an undeclared body over the cap got %v", resp)
		}
		t.Logf("answered %d after %d body bytes; then: %v", resp.StatusCode, sent, werr)
	})
}

// writeUntilRefused writes up to n zero bytes to c and returns how many
// went out before the first error.
func writeUntilRefused(c io.Writer, n int) (int, error) {
	buf := make([]byte, 64<<10)
	sent := 0
	for sent < n {
		k, err := c.Write(buf)
		sent += k
		if err != nil {
			return sent, err
		}
	}
	return sent, errors.New("no error")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}
