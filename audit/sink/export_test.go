package sink

import (
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
)

// SetGapWait shortens how long s waits at a gap in sequence numbers; call
// it before Open.
func SetGapWait(s *Streamer, d time.Duration) { s.gapWait = d }

// FormatSyslog returns the RFC 5424 message a syslog sink configured as sc
// sends for e.
func FormatSyslog(sc config.AuditSink, e *hrgate.AuditEvent) ([]byte, error) {
	return newSyslogFormat(sc.WithDefaults()).message(e)
}
