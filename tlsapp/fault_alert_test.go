package tlsapp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// plainAlert sends a fatal alert in the clear.
func plainAlert(a recordlimit.Alert) func(*scripted.Session) error {
	return func(s *scripted.Session) error { return s.SendRecord(recordlimit.TypeAlert, []byte{2, byte(a)}) }
}

// encryptedAlert sends a fatal alert under the server's handshake keys.
func encryptedAlert(a recordlimit.Alert) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		return s.SendEncrypted(recordlimit.TypeAlert, []byte{2, byte(a)}, 0)
	}
}

// rawRecord sends a record with any header.
func rawRecord(typ byte, vers uint16, length int, body []byte) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		_, err := s.Conn.Write(append([]byte{typ, byte(vers >> 8), byte(vers), byte(length >> 8), byte(length)}, body...))
		return err
	}
}

// TestFaultAlertsAtEachStage: a server's fatal alert instead of the
// ServerHello, after a TLS 1.2 ServerHello, and in TLS 1.3 under the
// handshake keys in place of EncryptedExtensions, reaches the caller as the
// TLS stack's "remote error" carrying that alert; no goroutine is left.
func TestFaultAlertsAtEachStage(t *testing.T) {
	hf, ip := recordlimit.AlertHandshakeFailure, recordlimit.AlertIllegalParameter
	for _, tt := range []struct {
		name   string
		script func(*scripted.Session) error
		want   recordlimit.Alert
	}{
		{"instead of ServerHello", plainAlert(hf), hf},
		{"after ServerHello/1.2", then(sh12(), plainAlert(ip)), ip},
		{"instead of EncryptedExtensions/1.3", then(func(s *scripted.Session) error { return s.SendServerHello13() }, encryptedAlert(ip)), ip},
		{"after EncryptedExtensions/1.3", then(ee13(extRSL(512)), encryptedAlert(hf)), hf},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			err := scriptedDial(t, Config{RecordSizeLimit: 512}, tt.script)
			if a, ok := remoteAlert(err); !ok || a != tt.want {
				t.Fatalf("err = %v (%T); want the remote alert %v", err, err, tt.want)
			}
		})
	}
}

// scriptedDial dials a scripted server that runs script after the
// ClientHello and then waits for the client to hang up.
func scriptedDial(t *testing.T, cfg Config, script func(*scripted.Session) error) error {
	t.Helper()
	addr := scripted.Serve(t, func(s *scripted.Session) error {
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		if err := script(s); err != nil {
			return nil // the client may have hung up first
		}
		io.Copy(io.Discard, s.Conn)
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.InsecureSkipVerify = true
	start := time.Now()
	c, err := Dial(ctx, "tcp", addr, &cfg)
	within(t, "Dial", time.Since(start), 5*time.Second)
	if err == nil {
		c.Close()
		t.Fatal("handshake with a scripted server succeeded")
	}
	return err
}

// TestFaultBadFraming: unknown record types, non-TLS versions, lengths
// above every limit, at each stage of the handshake, end it with the typed
// error of recordlimit and the alert it maps to.
func TestFaultBadFraming(t *testing.T) {
	sh13 := func(s *scripted.Session) error { return s.SendServerHello13() }
	for _, tt := range []struct {
		name   string
		script func(*scripted.Session) error
		want   error
		alert  recordlimit.Alert
	}{
		{"type 0 first", rawRecord(0, 0x0303, 2, []byte{1, 2}), recordlimit.ErrBadRecord, recordlimit.AlertUnexpectedMessage},
		{"type 255 first", rawRecord(255, 0x0303, 2, []byte{1, 2}), recordlimit.ErrBadRecord, recordlimit.AlertUnexpectedMessage},
		{"version 2.0 first", rawRecord(22, 0x0200, 2, []byte{1, 2}), recordlimit.ErrBadRecord, recordlimit.AlertDecodeError},
		{"length 65535 first", rawRecord(22, 0x0303, 0xffff, nil), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"type 99 after ServerHello/1.2", then(sh12(), rawRecord(99, 0x0303, 1, []byte{0})), recordlimit.ErrBadRecord, recordlimit.AlertUnexpectedMessage},
		{"type 99 after ServerHello/1.3", then(sh13, rawRecord(99, 0x0303, 1, []byte{0})), recordlimit.ErrBadRecord, recordlimit.AlertUnexpectedMessage},
		{"length 65535 after ServerHello/1.3", then(sh13, rawRecord(23, 0x0303, 0xffff, nil)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"version 0x0404 after EncryptedExtensions/1.3", then(ee13(extRSL(512)), rawRecord(23, 0x0404, 20, make([]byte, 20))), recordlimit.ErrBadRecord, recordlimit.AlertDecodeError},
		{"length 65535 after EncryptedExtensions/1.3", then(ee13(extRSL(512)), rawRecord(23, 0x0303, 0xffff, nil)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"handshake record 513 after MFL 512/1.3", then(ee13(extMFL(1)), record(recordlimit.TypeHandshake, 513)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			err := scriptedDial(t, Config{MaxFragmentLength: 512, RecordSizeLimit: 512}, tt.script)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			if a, ok := recordlimit.AlertOf(err); !ok || a != tt.alert {
				t.Fatalf("err maps to %v (%v); want %v", a, ok, tt.alert)
			}
		})
	}
}

// TestFaultAfterHandshake: after a real handshake with Go's server, a
// record of unknown type, one above every limit, and the server's own alert
// (TLS 1.3: it asks for a client certificate, gets none, and says so only
// after the client has finished) reach the reader as typed errors; a
// close_notify is a clean io.EOF.
func TestFaultAfterHandshake(t *testing.T) {
	inject := func(bad []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			srv := startGoServer(t, &tls.Config{MinVersion: tls.VersionTLS13, SessionTicketsDisabled: true}, func(c *tls.Conn) {
				c.Handshake()
				c.Write([]byte("hello"))
				time.Sleep(time.Second)
			})
			return startFaultRelay(t, srv, func(c net.Conn, idx int, h wire.Header, rec []byte) bool {
				forward(c, idx, h, rec)
				if h.Type == recordlimit.TypeApplicationData && h.Len == len("hello")+17 {
					c.Write(bad) // right after the record carrying "hello"
				}
				return true
			})
		}
	}
	for _, tt := range []struct {
		name   string
		server func(t *testing.T) string
		check  func(error) bool
	}{
		{"unknown record type", inject([]byte{99, 3, 3, 0, 1, 0}), func(err error) bool {
			a, _ := recordlimit.AlertOf(err)
			return errors.Is(err, recordlimit.ErrBadRecord) && a == recordlimit.AlertUnexpectedMessage
		}},
		{"record above the protocol maximum", inject(append([]byte{23, 3, 3, 0x41, 0x01}, make([]byte, 16641)...)), func(err error) bool {
			a, _ := recordlimit.AlertOf(err)
			return errors.Is(err, recordlimit.ErrRecordOverflow) && a == recordlimit.AlertRecordOverflow
		}},
		{"server alert certificate_required", func(t *testing.T) string {
			return startGoServer(t, &tls.Config{MinVersion: tls.VersionTLS13, ClientAuth: tls.RequireAnyClientCert}, func(c *tls.Conn) {
				c.Handshake()
			})
		}, func(err error) bool { a, ok := remoteAlert(err); return ok && a == 116 }},
		{"close_notify", func(t *testing.T) string {
			return startGoServer(t, &tls.Config{}, func(c *tls.Conn) { c.Write([]byte("hello")) })
		}, func(err error) bool { return err == io.EOF }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leakCheck(t)
			c := dialTest(t, tt.server(t), Config{RecordSizeLimit: 2048})
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			var err error
			for err == nil {
				_, err = c.Read(make([]byte, 100))
			}
			if !tt.check(err) {
				t.Fatalf("Read error %v (%T)", err, err)
			}
		})
	}
}

// TestFaultCompressedCertificateMemory: a server whose compressed
// Certificate declares 16 MiB uncompressed is refused with bad_certificate
// before the TLS stack allocates it: the whole dial allocates well under a
// megabyte or two, not 16 MiB.
func TestFaultCompressedCertificateMemory(t *testing.T) {
	leakCheck(t)
	// Warm up: the first dial builds lazily initialised tables.
	runScript(t, Config{RecordSizeLimit: 512}, then(ee13(), compressedCert(100)))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err, alert, alertErr := runScript(t, Config{RecordSizeLimit: 512}, then(ee13(), compressedCert(0xffffff)))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, recordlimit.ErrProtocol) || alertErr != nil || alert != recordlimit.AlertBadCertificate {
		t.Fatalf("client error %v, server got alert %v (%v)", err, alert, alertErr)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("the refused dial allocated %d KiB in all (client and scripted server)", grew>>10)
	if grew > 4<<20 {
		t.Fatalf("allocated %d bytes for a certificate declaring 16 MiB", grew)
	}
}
