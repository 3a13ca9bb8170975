package tlsapp

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// leakCheck makes the test fail if it leaves a goroutine behind. Registered
// first, its cleanup runs last, after the servers' own cleanups; goleak
// retries for a short while to let closed connections' goroutines end.
func leakCheck(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		goleak.VerifyNone(t, opt)
	})
}

// within fails the test if d is above limit.
func within(t *testing.T, what string, d, limit time.Duration) {
	t.Helper()
	if d > limit {
		t.Errorf("%s took %v, more than %v", what, d, limit)
	}
}

// startFaultRelay stands between a client and a server on 127.0.0.1. It copies
// the client's bytes as they come and hands the server's bytes, one record
// at a time, to onRecord, which writes what it likes to the client and
// returns false to end the connection (both sides are then closed).
func startFaultRelay(t *testing.T, target string, onRecord func(client net.Conn, idx int, h wire.Header, rec []byte) bool) string {
	t.Helper()
	return testnet.Relay(t, target, 60*time.Second, func(c, s net.Conn) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			io.Copy(s, c)
			s.(*net.TCPConn).CloseWrite()
		}()
		defer func() { c.Close(); s.Close(); <-done }()
		for idx := 0; ; idx++ {
			hdr := make([]byte, wire.HeaderLen)
			if _, err := io.ReadFull(s, hdr); err != nil {
				return
			}
			h, err := wire.ParseHeader(hdr)
			if err != nil {
				return
			}
			rec := make([]byte, wire.HeaderLen+h.Len)
			copy(rec, hdr)
			if _, err := io.ReadFull(s, rec[wire.HeaderLen:]); err != nil {
				return
			}
			if !onRecord(c, idx, h, rec) {
				return
			}
		}
	})
}

// forward passes every record on unchanged.
func forward(c net.Conn, _ int, _ wire.Header, rec []byte) bool {
	_, err := c.Write(rec)
	return err == nil
}

// remoteAlert returns the alert the server sent, if one ended the
// connection.
func remoteAlert(err error) (recordlimit.Alert, bool) {
	var ae *AlertError
	if !errors.As(err, &ae) || !ae.Remote {
		return 0, false
	}
	return ae.Alert, true
}
