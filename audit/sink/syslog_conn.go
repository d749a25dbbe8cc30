package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hrgate/hrgate"
	"github.com/hrgate/hrgate/config"
)

// syslogSink sends events to a syslog collector: over TLS (RFC 5425) or
// plain TCP with octet-counting framing, "LEN SP MSG", or over UDP
// (RFC 5426), one message per datagram.
//
// Syslog has no acknowledgement: a write succeeds once the local kernel
// has the bytes, even when the collector is about to close the connection
// and discard what it has not read. So before each batch the sink checks
// that the collector has not closed or reset the connection, and it keeps
// the batches written in the last confirmWindow: when the connection turns
// out to have broken, they are sent again, first, on the new one. What
// remains is a collector that read a batch and then crashed before storing
// it, which no transport without acknowledgements can detect. UDP gives no
// assurance at all.
type syslogSink struct {
	transport string
	address   string
	timeout   time.Duration
	tls       *tls.Config
	format    *syslogFormat

	conn net.Conn
	buf  []byte
	// pending are the batches written on the current connection, or on a
	// broken one, that the collector has not yet held open for
	// confirmWindow.
	pending []sentBatch
}

// confirmWindow is how long a collector must keep a connection open after
// a batch was written for the batch to count as received. A collector
// reads its socket within milliseconds; the window leaves room for one
// that is busy.
const confirmWindow = 2 * time.Second

type sentBatch struct {
	at     time.Time
	events []*hrgate.AuditEvent
}

func newSyslogSink(sc config.AuditSink, key func(string) string, log *slog.Logger) (*syslogSink, error) {
	s := &syslogSink{
		transport: sc.Transport,
		address:   sc.Address,
		timeout:   time.Duration(sc.Timeout),
		format:    newSyslogFormat(sc),
	}
	host, _, _ := net.SplitHostPort(sc.Address)
	if sc.Transport == config.SyslogTLS {
		c, err := tlsConfig(sc, host, key)
		if err != nil {
			return nil, err
		}
		s.tls = c
	} else if !config.IsLoopback(sc.Address) {
		log.Warn("audit sink sends the audit trail in clear text over the network; use transport tcp+tls", "transport", sc.Transport, "address", sc.Address)
	}
	return s, nil
}

// Deliver sends the batch, connecting first when there is no live
// connection. Any error drops the connection; the next delivery dials
// again and sends the batches written on the broken one again first.
func (s *syslogSink) Deliver(ctx context.Context, events []*hrgate.AuditEvent) error {
	if s.transport == config.SyslogUDP {
		return s.deliverUDP(ctx, events)
	}
	now := time.Now()
	if s.conn != nil {
		if peerOpen(s.conn) {
			s.confirm(now)
		} else {
			s.drop()
		}
	}
	s.buf = s.buf[:0]
	var err error
	redialed := s.conn == nil
	if redialed {
		if err := s.dial(ctx); err != nil {
			return err
		}
		// Whatever went over the broken connection unconfirmed goes
		// first over the new one.
		for _, b := range s.pending {
			if s.buf, err = s.appendFrames(s.buf, b.events); err != nil {
				return err
			}
		}
	}
	if s.buf, err = s.appendFrames(s.buf, events); err != nil {
		return err
	}
	if err := s.write(s.buf); err != nil {
		return err
	}
	if redialed {
		// The batches sent again are confirmed from this write on.
		for i := range s.pending {
			s.pending[i].at = now
		}
	}
	s.pending = append(s.pending, sentBatch{at: now, events: events})
	return nil
}

// appendFrames appends the events as octet-counted frames, "LEN SP MSG".
func (s *syslogSink) appendFrames(buf []byte, events []*hrgate.AuditEvent) ([]byte, error) {
	for _, e := range events {
		msg, err := s.format.message(e)
		if err != nil {
			return buf, err
		}
		buf = strconv.AppendInt(buf, int64(len(msg)), 10)
		buf = append(buf, ' ')
		buf = append(buf, msg...)
	}
	return buf, nil
}

// confirm forgets the batches the collector has held the connection open
// for confirmWindow since they were written.
func (s *syslogSink) confirm(now time.Time) {
	i := 0
	for i < len(s.pending) && now.Sub(s.pending[i].at) >= confirmWindow {
		i++
	}
	// Copy down rather than reslice, so the confirmed events are freed.
	s.pending = append(s.pending[:0], s.pending[i:]...)
}

// deliverUDP sends one datagram per event.
func (s *syslogSink) deliverUDP(ctx context.Context, events []*hrgate.AuditEvent) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	for _, e := range events {
		msg, err := s.format.message(e)
		if err != nil {
			return err
		}
		if err := s.write(msg); err != nil {
			return err
		}
	}
	return nil
}

func (s *syslogSink) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	var (
		conn net.Conn
		err  error
	)
	switch s.transport {
	case config.SyslogTLS:
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.address)
	case config.SyslogTCP:
		conn, err = d.DialContext(ctx, "tcp", s.address)
	default:
		conn, err = d.DialContext(ctx, "udp", s.address)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.address, err)
	}
	s.conn = conn
	return nil
}

func (s *syslogSink) write(p []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		s.drop()
		return err
	}
	if _, err := s.conn.Write(p); err != nil {
		s.drop()
		return fmt.Errorf("send to %s: %w", s.address, err)
	}
	return nil
}

func (s *syslogSink) drop() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// peerOpen reports whether the collector has kept the connection open. A
// syslog collector never writes, so a read that does not time out at once
// means the connection was closed or reset.
func peerOpen(c net.Conn) bool {
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var one [1]byte
	_, err := c.Read(one[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return err == nil || (errors.As(err, &ne) && ne.Timeout())
}

func (s *syslogSink) Close() error {
	s.drop()
	return nil
}
