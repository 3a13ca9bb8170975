package guard

import (
	"errors"
	"strings"
	"testing"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// TestMissingSecretEveryPath: each place a guard needs a TLS 1.3 handshake
// secret the stack never logged fails with a guard *Error that matches
// recordlimit.ErrMissingSecret and carries internal_error (issue 20: the
// client's read side wrapped it in a NegotiationError with a string reason,
// so errors.Is was false there and true elsewhere).
func TestMissingSecretEveryPath(t *testing.T) {
	rec := make([]byte, wire.HeaderLen+40)
	copy(rec, []byte{byte(recordlimit.TypeApplicationData), 3, 3, 0, 40})
	h := wire.Header{Type: recordlimit.TypeApplicationData, Version: wire.VersionTLS12, Len: 40}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"client reads the server's flight", func() error {
			c := NewConn(nil, recordlimit.Offer{})
			c.agr.Suite = 0x1301
			return c.inspectEncrypted(rec)
		}},
		{"client rewrites its own flight", func() error {
			c := NewConn(nil, recordlimit.Offer{})
			c.agr.Suite = 0x1301
			_, err := c.resealClient(nil, rec, 512)
			return err
		}},
		{"server rewrites its flight", func() error {
			s := NewServerConn(nil, 0)
			s.version, s.suite = wire.VersionTLS13, 0x1301
			_, err := s.reseal(nil, rec)
			return err
		}},
		{"server follows the client's flight", func() error {
			s := NewServerConn(nil, 0)
			s.version, s.suite = wire.VersionTLS13, 0x1301
			_, err := s.followClient(h, rec)
			return err
		}},
	} {
		err := tc.run()
		var ge *Error
		if !errors.Is(err, recordlimit.ErrMissingSecret) || !errors.As(err, &ge) {
			t.Errorf("%s: %v, want a guard *Error matching ErrMissingSecret", tc.name, err)
			continue
		}
		if errors.Is(err, recordlimit.ErrNegotiation) {
			t.Errorf("%s: %v matches ErrNegotiation", tc.name, err)
		}
		if a, ok := recordlimit.AlertOf(err); !ok || a != recordlimit.AlertInternalError {
			t.Errorf("%s: alert %v (%v), want internal_error", tc.name, a, ok)
		}
		if !strings.HasPrefix(err.Error(), "guard: ") {
			t.Errorf("%s: %q does not say it is the guard's", tc.name, err)
		}
	}
}

// TestGuardErrorModel: the guard's refusals are its own *Error, prefixed
// "guard:", matching recordlimit.ErrProtocol and carrying their alert;
// only a refusal of the record-size extensions is a NegotiationError.
func TestGuardErrorModel(t *testing.T) {
	var f follower
	tooBig := f.feed([]byte{typeCertificate, 0x04, 0x00, 0x01}, skipBodies, nil)
	_, bad := ParseClientHello([]byte{3, 3})
	e, err := NewEpoch(0x1301, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	_, _, open := e.Open(nil, make([]byte, wire.HeaderLen+40))
	for _, tc := range []struct {
		name  string
		err   error
		alert recordlimit.Alert
	}{
		{"Certificate above 256 KiB", tooBig, recordlimit.AlertDecodeError},
		{"malformed ClientHello", bad, recordlimit.AlertDecodeError},
		{"record that does not open", open, recordlimit.AlertBadRecordMAC},
		{"unexpected message", unexpected("x"), recordlimit.AlertUnexpectedMessage},
	} {
		var ge *Error
		if !errors.As(tc.err, &ge) || !errors.Is(tc.err, recordlimit.ErrProtocol) || errors.Is(tc.err, recordlimit.ErrNegotiation) {
			t.Errorf("%s: %v, want a guard *Error matching ErrProtocol only", tc.name, tc.err)
			continue
		}
		if a, _ := recordlimit.AlertOf(tc.err); a != tc.alert {
			t.Errorf("%s: alert %v, want %v", tc.name, a, tc.alert)
		}
		if !strings.HasPrefix(tc.err.Error(), "guard: ") {
			t.Errorf("%s: %q does not say it is the guard's", tc.name, tc.err)
		}
	}
	// The bounds themselves, on both sides: 256 KiB for a Certificate,
	// 64 KiB for any other message (a CompressedCertificate included, as
	// crypto/tls and utls bound it).
	for _, typ := range []uint8{typeCertificate, typeEncryptedExtensions, typeCompressedCertificate, typeServerHello} {
		limit := maxHandshakeMessage
		if typ == typeCertificate {
			limit = maxCertificateMessage
		}
		for _, n := range []int{limit, limit + 1} {
			var f follower
			err := f.feed([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, skipBodies, nil)
			if (err == nil) != (n <= limit) {
				t.Errorf("a %d-byte message of type %d: %v", n, typ, err)
			}
		}
	}
}
