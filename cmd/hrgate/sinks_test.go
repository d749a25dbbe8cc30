package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeStreamsTheTrail configures a file sink and checks, end to end
// through the real audit store, that the events of a serving process
// arrive in it in sequence order, each once, and that a restart resumes
// after the last one delivered.
func TestServeStreamsTheTrail(t *testing.T) {
	_, dd, mustRun := newDataDir(t)
	mustRun(t, "sandbox", "seed", "--companies", "1", "--employees", "3")
	mustRun(t, "consumers", "create", "hr", "--scopes", "employees:read:identity companies:*")
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(mustRun(t, "keys", "create", "--consumer", "hr", "--test", "--output", "json")), &k); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "trail.jsonl")
	cfg := filepath.Join(t.TempDir(), "hrgate.yaml")
	yaml := "audit:\n  sinks:\n    - name: siem-file\n      type: file\n      path: " + out + "\n      poll_interval: 50ms\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--config", cfg}, dd...)

	for round := range 2 {
		s := startServe(t, args...)
		for range 3 {
			if status, _, body := call(t, &http.Client{}, "GET", s.url+"/v1/employees", k.Key, nil, ""); status != 200 {
				t.Fatalf("round %d: %d %s", round, status, body)
			}
		}
		// Wait until the requests have reached the sink, then stop.
		deadline := time.Now().Add(30 * time.Second)
		for countType(t, out, "api.request") < 3*(round+1) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the sink holds %d request events", round, countType(t, out, "api.request"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if code := s.stop(); code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	}

	// Every event, in order, each once: the sequence numbers the file
	// holds are contiguous from where the sink started.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev struct{ Seq int64 }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("a line is not an event: %v", err)
		}
		if last != 0 && ev.Seq != last+1 {
			t.Fatalf("event %d follows %d: lost or repeated", ev.Seq, last)
		}
		last = ev.Seq
	}
	if last == 0 {
		t.Fatal("the sink holds no event")
	}
}

// TestServeRefusesABadSink gives serve a sink whose token is missing:
// serve must fail naming the key, before either listener opens, so that
// nothing is left serving or running against a store that is closing.
func TestServeRefusesABadSink(t *testing.T) {
	_, dd, _ := newDataDir(t)
	cfg := filepath.Join(t.TempDir(), "hrgate.yaml")
	yaml := "audit:\n  sinks:\n    - name: splunk\n      type: http\n      url: https://127.0.0.1:8088/services/collector/event\n" +
		"      token_env: HRGATE_TEST_UNSET_HEC_TOKEN\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--config", cfg, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--insecure-http", "--log-format", "json"}, dd...)
	code, _, errOut := run(t, nil, args...)
	if code == 0 || !strings.Contains(errOut, "audit.sinks[0].token_env") {
		t.Fatalf("serve with a bad sink: exit %d: %s", code, errOut)
	}
	if strings.Contains(errOut, "is serving") {
		t.Fatalf("a listener opened before the sinks were checked:\n%s", errOut)
	}
}

func countType(t *testing.T, path, typ string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(`"type":"`+typ+`"`))
}
