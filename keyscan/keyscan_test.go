package keyscan_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/keyscan"
)

// MustKey returns a new API key for env.
func MustKey(tb testing.TB, env hrgate.KeyEnv) string {
	tb.Helper()
	k, err := hrgate.GenerateAPIKey(env, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// BadChecksum returns key with its last character changed, which breaks
// the checksum but keeps the shape.
func BadChecksum(tb testing.TB, key string) string {
	tb.Helper()
	last := key[len(key)-1]
	repl := byte('a')
	if last == 'a' {
		repl = 'b'
	}
	bad := key[:len(key)-1] + string(repl)
	if !hrgate.APIKeyPattern.MatchString(bad) {
		tb.Fatalf("look-alike %q does not have a key's shape", bad)
	}
	if _, ok := hrgate.CheckAPIKey(bad); ok {
		tb.Fatalf("look-alike %q passes the checksum", bad)
	}
	return bad
}

type place struct {
	line   int
	secret string
}

func places(fs []keyscan.Finding) []place {
	var out []place
	for _, f := range fs {
		out = append(out, place{f.Line, f.Secret})
	}
	return out
}

func samePlaces(a, b []place) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestScanReader(t *testing.T) {
	live, test := MustKey(t, hrgate.KeyLive), MustKey(t, hrgate.KeyTest)
	bad := BadChecksum(t, live)
	// Lines longer than the scanner's 64 KiB reading pieces, with keys
	// before, across and after piece boundaries.
	var long strings.Builder
	var longWant []place
	long.WriteString("first\n")
	for i, off := range []int{10, 65536 - 58, 65536 - 57, 65536 - 30, 65536 - 1, 65536, 131072 - 29, 200000} {
		long.WriteString(strings.Repeat(" ", off) + live + " tail\n")
		longWant = append(longWant, place{i + 2, live})
	}
	long.WriteString("after " + test + "\n")
	longWant = append(longWant, place{10, test})
	for _, tc := range []struct {
		name string
		text string
		want []place
	}{
		{"OK", "HRGATE_KEY=" + live + "\n", []place{{1, live}}},
		{"TestKey", "x\n" + test, []place{{2, test}}},
		{"KeyAmidText", `curl -H "Authorization: Bearer ` + live + `" https://hr.example` + "\n", []place{{1, live}}},
		{"TwoKeysOneLine", live + "," + test + "\n", []place{{1, live}, {1, test}}},
		{"SameKeyTwiceOnALineOnce", live + " " + live + "\n", []place{{1, live}}},
		{"CRLF", "a\r\nkey: " + live + "\r\nb\r\n", []place{{2, live}}},
		{"NoTrailingNewline", "a\n\n" + live, []place{{3, live}}},
		{"ErrBadChecksum", "key: " + bad + "\n", nil},
		{"ErrTruncated", "key: " + live[:len(live)-1] + "\n", nil},
		{"ErrOtherPrefix", "key: hrg_prod_" + live[len("hrg_live_"):] + "\n", nil},
		{"LongLines", long.String(), longWant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := keyscan.New(keyscan.DefaultPatterns())
			got, err := s.ScanReader(strings.NewReader(tc.text), "f")
			if err != nil {
				t.Fatal(err)
			}
			if !samePlaces(places(got), tc.want) {
				t.Fatalf("found %d: %v\nwant %d: %v", len(got), places(got), len(tc.want), tc.want)
			}
			for _, f := range got {
				if f.Path != "f" || f.Kind != keyscan.KindAPIKey || !bytes.Equal(f.Hash, hrgate.HashAPIKey(f.Secret)) {
					t.Fatalf("finding %v: path %q kind %q, or hash is not the key's", f, f.Path, f.Kind)
				}
			}
		})
	}
}

// TestFindingHidesSecret proves that the usual ways of printing a finding
// do not reveal the key.
func TestFindingHidesSecret(t *testing.T) {
	key := MustKey(t, hrgate.KeyLive)
	fs, err := keyscan.New(keyscan.DefaultPatterns()).ScanReader(strings.NewReader(key), "f")
	if err != nil || len(fs) != 1 {
		t.Fatalf("%v %v", fs, err)
	}
	f := fs[0]
	js, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{f.String(), fmt.Sprintf("%v %+v %#v %s", f, f, f, f), string(js), f.Redacted} {
		if strings.Contains(out, key) || strings.Contains(out, key[12:]) {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if f.Redacted != key[:12]+"…" {
		t.Fatalf("redacted %q", f.Redacted)
	}
	if !strings.Contains(string(js), `"redacted":"`+key[:12]) {
		t.Fatalf("json misses the redacted form: %s", js)
	}
}

func TestNewRejectsUnboundedPattern(t *testing.T) {
	p := keyscan.DefaultPatterns()[0]
	p.Regexp = regexp.MustCompile(`hrg_x_[0-9a-z]+`)
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted a pattern without a length bound")
		}
	}()
	keyscan.New([]keyscan.Pattern{p})
}

func TestScanFindsClientSecrets(t *testing.T) {
	secret, err := hrgate.GenerateClientSecret(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := secret[:len(secret)-1] + "x"
	if bad == secret {
		bad = secret[:len(secret)-1] + "y"
	}
	s := keyscan.New(keyscan.DefaultPatterns())
	got, err := s.ScanReader(strings.NewReader("client_secret="+secret+"\nlookalike="+bad+"\n"), "env")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != keyscan.KindClientSecret || got[0].Secret != secret || got[0].Line != 1 ||
		!bytes.Equal(got[0].Hash, hrgate.HashClientSecret(secret)) {
		t.Fatalf("findings %v", got)
	}
	if st, _, err := keyscan.Classify(t.Context(), nil, time.Now(), got[0]); err != nil || st != keyscan.Unchecked {
		t.Fatalf("a client secret classified as %q, %v", st, err)
	}
}

func TestScanFindsAdminTokens(t *testing.T) {
	tok := hrgate.AdminTokenPrefix + strings.Repeat("aB3_-", 8) + "xyz"
	s := keyscan.New(keyscan.DefaultPatterns())
	got, err := s.ScanReader(strings.NewReader("ADMIN="+tok+"\nshort=hrg_admin_abc\n"), "env")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != keyscan.KindAdminToken || got[0].Secret != tok || got[0].Line != 1 {
		t.Fatalf("findings %v", got)
	}
	if st, _, err := keyscan.Classify(t.Context(), nil, time.Now(), got[0]); err != nil || st != keyscan.Unchecked {
		t.Fatalf("an admin token classified as %q, %v", st, err)
	}
}

func TestScanFindsSourceTokens(t *testing.T) {
	tok, err := hrgate.GenerateSourceToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bad := tok[:len(tok)-1] + "x"
	if bad == tok {
		bad = tok[:len(tok)-1] + "y"
	}
	s := keyscan.New(keyscan.DefaultPatterns())
	got, err := s.ScanReader(strings.NewReader("lookalike="+bad+"\nSCIM_TOKEN="+tok+"\n"), "env")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != keyscan.KindSourceToken || got[0].Secret != tok || got[0].Line != 2 ||
		!bytes.Equal(got[0].Hash, hrgate.HashSourceToken(tok)) || strings.Contains(got[0].String(), tok[12:]) {
		t.Fatalf("findings %v", got)
	}
	// The key look-up is not asked about a source token.
	if st, _, err := keyscan.Classify(t.Context(), lookup{string(hrgate.HashSourceToken(tok)): {ID: "key_x"}}, time.Now(), got[0]); err != nil || st != keyscan.Unknown {
		t.Fatalf("a source token classified as an API key: %q, %v", st, err)
	}
	src := &hrgate.Source{ID: "src_live", Name: "entra", Type: hrgate.SourceSCIM}
	for _, tc := range []struct {
		sources sourceLookup
		want    keyscan.Status
		wantID  string
	}{
		{sourceLookup{string(hrgate.HashSourceToken(tok)): src}, keyscan.Live, src.ID},
		{sourceLookup{}, keyscan.Unknown, ""},
	} {
		st, id, err := keyscan.Classify(t.Context(), tc.sources, time.Now(), got[0])
		if err != nil || st != tc.want || id != tc.wantID {
			t.Errorf("a source token classified as %q (%q), %v; want %q", st, id, err, tc.want)
		}
	}
	if _, _, err := keyscan.Classify(t.Context(), sourceLookup{"": nil}, time.Now(), keyscan.Finding{Kind: keyscan.KindSourceToken}); err == nil {
		t.Error("a failed look-up classified the token")
	}
	// The source look-up is not asked about an API key.
	if st, _, err := keyscan.Classify(t.Context(), sourceLookup{"": src}, time.Now(), keyscan.Finding{Kind: keyscan.KindAPIKey}); err != nil || st != keyscan.Unknown {
		t.Errorf("an API key classified as a source token: %q, %v", st, err)
	}
}

// sourceLookup is a Lookup over a map from token hash to source, a nil
// source standing for a failed look-up, which knows no API key.
type sourceLookup map[string]*hrgate.Source

func (sourceLookup) FindAPIKeyByHash(context.Context, []byte) (*hrgate.APIKey, error) {
	return nil, hrgate.ErrNotFound("API key")
}

func (l sourceLookup) FindSourceByTokenHash(_ context.Context, hash []byte) (*hrgate.Source, error) {
	src, ok := l[string(hash)]
	switch {
	case ok && src == nil:
		return nil, errors.New("database is down")
	case ok:
		return src, nil
	}
	return nil, hrgate.ErrNotFound("Source")
}

// TestDefaultPatterns: the scanner looks for the secrets of hrgate's one
// list, with that list's patterns, but for webhook secrets, left out.
func TestDefaultPatterns(t *testing.T) {
	var want []string
	for _, sh := range hrgate.SecretShapes() {
		if sh.Kind != hrgate.SecretWebhookSecret {
			want = append(want, string(sh.Kind)+" "+sh.Pattern.String())
		}
	}
	var got []string
	for _, p := range keyscan.DefaultPatterns() {
		got = append(got, string(p.Kind)+" "+p.Regexp.String())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DefaultPatterns = %v,\nwant %v", got, want)
	}
}
