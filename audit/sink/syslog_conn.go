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
// Syslog has no acknowledgement: a message counts as delivered once the
// kernel took it. Before each batch the sink checks that the collector has
// not closed the connection, so that a collector that went away is noticed
// before a batch is lost into a dead socket rather than after; a batch in
// flight at the very moment a collector dies can still be lost. UDP gives
// no assurance at all.
type syslogSink struct {
	transport string
	address   string
	timeout   time.Duration
	tls       *tls.Config
	format    *syslogFormat

	conn net.Conn
	buf  []byte
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
// again.
func (s *syslogSink) Deliver(ctx context.Context, events []*hrgate.AuditEvent) error {
	if s.conn != nil && s.transport != config.SyslogUDP && !peerOpen(s.conn) {
		s.drop()
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	if s.transport == config.SyslogUDP {
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
	s.buf = s.buf[:0]
	for _, e := range events {
		msg, err := s.format.message(e)
		if err != nil {
			return err
		}
		s.buf = strconv.AppendInt(s.buf, int64(len(msg)), 10)
		s.buf = append(s.buf, ' ')
		s.buf = append(s.buf, msg...)
	}
	return s.write(s.buf)
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
