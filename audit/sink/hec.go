package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
	"github.com/hrgate/hrgate/internal/secretfile"
)

// hecSink posts events to an HTTP event collector that speaks Splunk HEC:
// one JSON object per event, newline-separated, in one request per batch,
// with "Authorization: Splunk TOKEN". Any status other than 2xx fails the
// batch, which is then sent again; redirects are not followed.
type hecSink struct {
	client *http.Client
	url    string // holds no credentials: validation refuses user info and queries
	token  string
	host   string
	index  string
	buf    bytes.Buffer
}

// hecEvent is the HEC envelope of one audit event.
type hecEvent struct {
	// Time is epoch seconds with microseconds, written as a number.
	Time       json.Number        `json:"time"`
	Host       string             `json:"host,omitempty"`
	Source     string             `json:"source"`
	SourceType string             `json:"sourcetype"`
	Index      string             `json:"index,omitempty"`
	Event      *hrgate.AuditEvent `json:"event"`
}

// HEC source and sourcetype of every event.
const (
	hecSource     = "hrgate"
	hecSourceType = "hrgate:audit"
)

func newHECSink(sc config.AuditSink, key func(string) string) (*hecSink, error) {
	token, err := readToken(sc, key)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(sc.URL)
	if err != nil {
		return nil, fmt.Errorf("config: %s: not a URL", key("url"))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if u.Scheme == "https" {
		c, err := tlsConfig(sc, u.Hostname(), key)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = c
	}
	host := sc.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	return &hecSink{
		client: &http.Client{
			Transport: tr,
			Timeout:   time.Duration(sc.Timeout),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		url:   u.String(),
		token: token,
		host:  host,
		index: sc.Index,
	}, nil
}

// readToken reads the HEC token from token_file, or from the variable
// token_env names. The file is read as every root secret is
// (internal/secretfile): not through a symbolic link, not when group or
// others may read it or another user owns it, and not beyond 4096 bytes.
func readToken(sc config.AuditSink, key func(string) string) (string, error) {
	var token string
	tokenKey := key("token_file")
	if sc.TokenEnv != "" {
		tokenKey = key("token_env")
		token = strings.TrimSpace(os.Getenv(sc.TokenEnv))
		if token == "" {
			return "", fmt.Errorf("config: %s: environment variable %s is not set or empty", key("token_env"), sc.TokenEnv)
		}
	} else {
		b, err := secretfile.Read(sc.TokenFile, "HEC token file")
		if err != nil {
			return "", fmt.Errorf("config: %s: %w", tokenKey, err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", fmt.Errorf("config: %s: %s is empty", tokenKey, sc.TokenFile)
		}
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 33 || token[i] > 126 {
			// Do not show the token, not even in part.
			return "", fmt.Errorf("config: %s: the HEC token must be printable ASCII without spaces", tokenKey)
		}
	}
	return token, nil
}

// Deliver posts the batch as one request.
func (s *hecSink) Deliver(ctx context.Context, events []*hrgate.AuditEvent) error {
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf) // Encode ends every object with a newline.
	for _, e := range events {
		t := e.Time.UTC()
		err := enc.Encode(hecEvent{
			Time:       json.Number(strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%06d", t.Nanosecond()/1000)),
			Host:       s.host,
			Source:     hecSource,
			SourceType: hecSourceType,
			Index:      s.index,
			Event:      e,
		})
		if err != nil {
			return fmt.Errorf("encode event %d: %w", e.Seq, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		return fmt.Errorf("POST %s: %w", s.url, err)
	}
	req.Header.Set("Authorization", "Splunk "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	// Read a little, to reuse the connection and to say why it failed.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return fmt.Errorf("POST %s: status %d%s", s.url, resp.StatusCode, hecSummary(body))
}

// hecSummary returns the text and code of a HEC error answer, such as
// {"text":"Incorrect index","code":7}, cut short and stripped to printable
// ASCII; it returns nothing for other bodies, which are not shown.
func hecSummary(body []byte) string {
	var r struct {
		Text string `json:"text"`
		Code *int   `json:"code"`
	}
	if json.Unmarshal(body, &r) != nil || r.Code == nil {
		return ""
	}
	text := []byte(truncateBytes(r.Text, 80))
	for i, c := range text {
		if c < 32 || c > 126 {
			text[i] = '?'
		}
	}
	return fmt.Sprintf(" (HEC code %d: %s)", *r.Code, text)
}

func (s *hecSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
