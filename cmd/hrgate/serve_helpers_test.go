package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	main "github.com/hrgate/hrgate/cmd/hrgate"
)

// served is a running `hrgate serve` in this process, on plain HTTP over
// loopback.
type served struct {
	url, adminURL string
	stderr        *syncBuffer
	stop          func() int
}

// startServe runs `hrgate serve` with args added to the listener flags and
// waits until both APIs listen.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--insecure-http",
		"--log-format", "json", "--log-level", "debug"}, args...)
	go func() { done <- main.Run(ctx, all, out, errOut, nil) }()
	s := &served{stderr: errOut}
	deadline := time.Now().Add(time.Minute)
	for s.url == "" || s.adminURL == "" {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("serve exited with %d: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start: %s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
		s.url, s.adminURL = servingURLs(strings.NewReader(errOut.String()))
	}
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

// servingURLs reads the URLs of the API and the admin API from serve's
// JSON log.
func servingURLs(log io.Reader) (api, admin string) {
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		switch line.Msg {
		case "hrgate is serving":
			api = line.URL
		case "admin API is serving":
			admin = line.URL
		}
	}
	return api, admin
}

// call sends one request with a bearer credential and returns status,
// request id and body.
func call(t *testing.T, c *http.Client, method, url, bearer string, body io.Reader, contentType string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Request-Id"), b
}
