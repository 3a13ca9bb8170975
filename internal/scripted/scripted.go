// Package scripted is a TLS server for tests that does only what a test
// script tells it: it reads the ClientHello, answers with a ServerHello
// carrying whatever extensions the script chooses (TLS 1.2 in the clear, or
// TLS 1.3 with a real X25519 exchange and handshake traffic keys), and sends
// any records the script likes — the malformed and lying answers that real
// servers never give. It exists to prove how a client reacts to a server's
// answer; Finish13 also completes a TLS 1.3 handshake, for the answers no
// server on this machine gives although they are legitimate (a compressed
// certificate, RFC 8879).
package scripted

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/hkdf"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/tls13"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Extension code points the scripts use.
const (
	extKeyShare          uint16 = 51
	extSupportedVersions uint16 = 43
	extCookie            uint16 = 44
)

// Suites the scripted server picks.
const (
	Suite13 uint16 = 0x1301 // TLS_AES_128_GCM_SHA256
	Suite12 uint16 = 0xc02b // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
)

// Session is one scripted connection.
type Session struct {
	Conn net.Conn
	// Hello is the parsed ClientHello; HelloMsg is the whole message.
	Hello    guard.ClientHello
	HelloMsg []byte

	sessionID  []byte
	transcript []byte
	server     *guard.Epoch
	client     *guard.Epoch
	// The TLS 1.3 handshake secret and the handshake traffic secrets, for
	// Finish13.
	hsSecret, clientHS, serverHS []byte
	shared                       []byte // the X25519 secret of ServerHello13
}

// Serve listens on 127.0.0.1 and runs script on the first connection. The
// script's error, if any, is reported through t when the test ends.
func Serve(t testing.TB, script func(s *Session) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		done <- script(&Session{Conn: c})
	}()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("scripted server: %v", err)
		}
	})
	return ln.Addr().String()
}

// ServeEach listens on 127.0.0.1 and runs script on every connection until
// the test ends. Errors of the script are not reported: a benchmark's client
// may hang up at any point.
func ServeEach(tb testing.TB, script func(s *Session) error) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	testnet.Serve(tb, ln, 20*time.Second, func(c net.Conn) { script(&Session{Conn: c}) })
	return ln.Addr().String()
}

// ReadRecord reads one record.
func (s *Session) ReadRecord() (wire.Header, []byte, error) {
	hdr := make([]byte, wire.HeaderLen)
	if _, err := io.ReadFull(s.Conn, hdr); err != nil {
		return wire.Header{}, nil, err
	}
	h, err := wire.ParseHeader(hdr)
	if err != nil {
		return h, nil, err
	}
	body := make([]byte, h.Len)
	_, err = io.ReadFull(s.Conn, body)
	return h, body, err
}

// AlertReceived is the error of ReadClientHello and Complete13 when the
// client sent an alert instead.
type AlertReceived struct{ Alert recordlimit.Alert }

func (e *AlertReceived) Error() string { return fmt.Sprintf("client sent alert %v", e.Alert) }

// ReadClientHello reads the ClientHello, however many records it spans.
func (s *Session) ReadClientHello() error {
	var buf []byte
	for {
		h, body, err := s.ReadRecord()
		if err != nil {
			return err
		}
		if h.Type == recordlimit.TypeChangeCipherSpec {
			continue
		}
		if h.Type == recordlimit.TypeAlert && len(body) == 2 {
			return &AlertReceived{Alert: recordlimit.Alert(body[1])}
		}
		if h.Type != recordlimit.TypeHandshake {
			return fmt.Errorf("expected a handshake record, got %v", h.Type)
		}
		buf = append(buf, body...)
		in := cryptobyte.String(buf)
		var typ uint8
		var msg cryptobyte.String
		if in.ReadUint8(&typ) && in.ReadUint24LengthPrefixed(&msg) {
			if typ != 1 {
				return fmt.Errorf("expected ClientHello, got message type %d", typ)
			}
			s.HelloMsg = buf[:4+len(msg)]
			s.Hello, err = guard.ParseClientHello(msg)
			if err != nil {
				return err
			}
			// legacy_session_id follows version and random.
			s.sessionID = append([]byte(nil), msg[35:35+int(msg[34])]...)
			s.transcript = append(s.transcript, s.HelloMsg...)
			return nil
		}
	}
}

// Ext returns the body of the ClientHello's extension typ.
func (s *Session) Ext(typ uint16) ([]byte, bool) {
	for _, e := range s.Hello.Extensions {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

func serverHello(random, sessionID []byte, suite uint16, exts []wire.Extension) []byte {
	var b cryptobyte.Builder
	b.AddUint8(2)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(0x0303)
		b.AddBytes(random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sessionID) })
		b.AddUint16(suite)
		b.AddUint8(0)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.BytesOrPanic()
}

// SendRecord writes one record with the given type and body.
func (s *Session) SendRecord(typ recordlimit.ContentType, body []byte) error {
	rec := wire.Header{Type: typ, Version: 0x0303, Len: len(body)}.Append(nil)
	_, err := s.Conn.Write(append(rec, body...))
	return err
}

// SendServerHello12 sends a TLS 1.2 ServerHello with exts, in the clear.
func (s *Session) SendServerHello12(exts ...wire.Extension) error {
	random := make([]byte, 32)
	rand.Read(random)
	return s.SendRecord(recordlimit.TypeHandshake, serverHello(random, s.sessionID, Suite12, exts))
}

// SendHelloRetryRequest13 asks the client for a P-256 key share.
func (s *Session) SendHelloRetryRequest13() error {
	hrr := sha256.Sum256([]byte("HelloRetryRequest"))
	msg := serverHello(hrr[:], s.sessionID, Suite13, []wire.Extension{
		{Type: extSupportedVersions, Data: []byte{0x03, 0x04}},
		{Type: extKeyShare, Data: []byte{0x00, 0x17}},
	})
	return s.SendRecord(recordlimit.TypeHandshake, msg)
}

// SendServerHello13 runs an X25519 exchange against the client's key share,
// sends a TLS 1.3 ServerHello carrying exts (after the two TLS 1.3 ones) and
// a ChangeCipherSpec, and derives the handshake traffic keys.
func (s *Session) SendServerHello13(exts ...wire.Extension) error {
	msg, err := s.ServerHello13(exts...)
	if err != nil {
		return err
	}
	if err := s.SendRecord(recordlimit.TypeHandshake, msg); err != nil {
		return err
	}
	if err := s.SendRecord(recordlimit.TypeChangeCipherSpec, []byte{1}); err != nil {
		return err
	}
	return s.Accept13(msg)
}

// ServerHello13 runs an X25519 exchange against the client's key share and
// returns a TLS 1.3 ServerHello carrying exts (after the two TLS 1.3 ones),
// for the script to send as it likes; Accept13 then enters it in the
// transcript and derives the handshake traffic keys.
func (s *Session) ServerHello13(exts ...wire.Extension) ([]byte, error) {
	share, err := s.x25519Share()
	if err != nil {
		return nil, err
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	peer, err := ecdh.X25519().NewPublicKey(share)
	if err != nil {
		return nil, err
	}
	if s.shared, err = priv.ECDH(peer); err != nil {
		return nil, err
	}
	ks := append([]byte{0x00, 0x1d, 0x00, 0x20}, priv.PublicKey().Bytes()...)
	all := append([]wire.Extension{
		{Type: extSupportedVersions, Data: []byte{0x03, 0x04}},
		{Type: extKeyShare, Data: ks},
	}, exts...)
	random := make([]byte, 32)
	rand.Read(random)
	return serverHello(random, s.sessionID, Suite13, all), nil
}

// Accept13 enters msg, the ServerHello from ServerHello13, in the
// transcript and derives the handshake traffic keys.
func (s *Session) Accept13(msg []byte) error {
	if s.shared == nil {
		return errors.New("no key exchange: call ServerHello13 first")
	}
	s.transcript = append(s.transcript, msg...)
	zeros := make([]byte, 32)
	early := hkdf.Extract(sha256.New, zeros, nil)
	empty := sha256.Sum256(nil)
	derived := tls13.ExpandLabel(sha256.New, early, "derived", empty[:], 32)
	hs := hkdf.Extract(sha256.New, s.shared, derived)
	th := sha256.Sum256(s.transcript)
	cs := tls13.ExpandLabel(sha256.New, hs, "c hs traffic", th[:], 32)
	ss := tls13.ExpandLabel(sha256.New, hs, "s hs traffic", th[:], 32)
	s.hsSecret, s.clientHS, s.serverHS = hs, cs, ss
	var err error
	if s.client, err = guard.NewEpoch(Suite13, cs); err != nil {
		return err
	}
	s.server, err = guard.NewEpoch(Suite13, ss)
	return err
}

// HelloRetryRequestCookie13 returns a HelloRetryRequest that asks for the
// same key share again with a cookie, and restarts the transcript as RFC
// 8446 (Section 4.4.1) wants it: the client answers with a second
// ClientHello (ReadClientHello) carrying the same X25519 share.
func (s *Session) HelloRetryRequestCookie13() []byte {
	hrr := sha256.Sum256([]byte("HelloRetryRequest"))
	msg := serverHello(hrr[:], s.sessionID, Suite13, []wire.Extension{
		{Type: extSupportedVersions, Data: []byte{0x03, 0x04}},
		{Type: extCookie, Data: []byte{0x00, 0x04, 'o', 'r', 'e', 'o'}},
	})
	ch := sha256.Sum256(s.transcript)
	s.transcript = append(append([]byte{254, 0, 0, 32}, ch[:]...), msg...)
	return msg
}

// x25519Share returns the client's X25519 key share.
func (s *Session) x25519Share() ([]byte, error) {
	data, ok := s.Ext(extKeyShare)
	if !ok {
		return nil, errors.New("ClientHello has no key_share")
	}
	in := cryptobyte.String(data)
	var list cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&list) {
		return nil, errors.New("malformed key_share")
	}
	for !list.Empty() {
		var group uint16
		var key cryptobyte.String
		if !list.ReadUint16(&group) || !list.ReadUint16LengthPrefixed(&key) {
			return nil, errors.New("malformed key_share")
		}
		if group == 0x001d {
			return key, nil
		}
	}
	return nil, errors.New("ClientHello has no X25519 key share")
}

// EncryptedExtensions returns an EncryptedExtensions message carrying exts.
func EncryptedExtensions(exts ...wire.Extension) []byte {
	var b cryptobyte.Builder
	b.AddUint8(8)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, e := range exts {
				b.AddUint16(e.Type)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Data) })
			}
		})
	})
	return b.BytesOrPanic()
}

// SendEncrypted sends content of type typ protected with the server's
// handshake keys, padded with pad zero bytes.
func (s *Session) SendEncrypted(typ recordlimit.ContentType, content []byte, pad int) error {
	if s.server == nil {
		return errors.New("no handshake keys: send a TLS 1.3 ServerHello first")
	}
	var rec []byte
	if pad == 0 {
		rec = s.server.Seal(nil, typ, content)
	} else {
		// A zero content-type byte is padding: seal content, type and
		// pad-1 zeros as content of "type 0" to end with pad zeros.
		inner := append(append(append([]byte(nil), content...), byte(typ)), make([]byte, pad-1)...)
		rec = s.server.Seal(nil, 0, inner)
	}
	_, err := s.Conn.Write(rec)
	return err
}

// ClearAlertError is the error of ReadAlert and Complete13 when the client
// sent an alert in the clear once it held its TLS 1.3 handshake keys (from
// the ServerHello on): a crypto/tls server, which reads with those keys from
// then on, refuses the record with unexpected_message and never learns the
// alert (RFC 8446, Section 5.2), so a client that ends the handshake this
// way leaves a real server guessing. A client that refuses the ServerHello
// itself has no keys: read its alert with ReadHelloAlert.
type ClearAlertError struct{ Alert recordlimit.Alert }

func (e *ClearAlertError) Error() string {
	return fmt.Sprintf("client sent alert %v in the clear under its TLS 1.3 handshake keys, which crypto/tls refuses", e.Alert)
}

// ReadAlert reads records until an alert arrives, decrypting protected ones
// with the client's keys when they exist, and returns its description. It
// is as strict as a crypto/tls server: once the client has TLS 1.3 keys
// (after SendServerHello13 or Accept13) an alert in the clear is a
// *ClearAlertError, and any other record in the clear but a
// ChangeCipherSpec, a malformed one, a record above the protocol's bound, or
// one that does not decrypt is an error.
func (s *Session) ReadAlert() (recordlimit.Alert, error) {
	for {
		h, body, err := s.ReadRecord()
		if err != nil {
			return 0, err
		}
		if s.client != nil && h.Len > wire.MaxCiphertextTLS13 {
			return 0, fmt.Errorf("a %d-byte TLS 1.3 record, above the protocol's bound", h.Len)
		}
		switch h.Type {
		case recordlimit.TypeAlert:
			a, err := alertBody(body)
			if err != nil {
				return 0, err
			}
			if s.client != nil {
				return 0, &ClearAlertError{Alert: a}
			}
			return a, nil
		case recordlimit.TypeApplicationData:
			if s.client == nil {
				return 0, errors.New("protected record without keys")
			}
			content, typ, err := s.client.Open(nil, append(h.Append(nil), body...))
			if err != nil {
				return 0, err
			}
			if len(content) > recordlimit.MaxPlaintext {
				return 0, fmt.Errorf("a protected record carrying %d bytes, above the protocol's bound", len(content))
			}
			if typ == recordlimit.TypeAlert {
				return alertBody(content)
			}
		case recordlimit.TypeChangeCipherSpec:
			if len(body) != 1 || body[0] != 1 {
				return 0, fmt.Errorf("malformed change_cipher_spec % x", body)
			}
		case recordlimit.TypeHandshake:
			if s.client != nil {
				return 0, errors.New("a handshake record in the clear under the client's TLS 1.3 handshake keys")
			}
		default:
			return 0, fmt.Errorf("a record of unknown type %d", h.Type)
		}
	}
}

// ReadHelloAlert reads the client's answer to a TLS 1.3 ServerHello it
// refuses: an alert in the clear, since a client that refuses the hello
// derives no keys (OpenSSL's server accepts an alert in the clear until the
// client's first protected record; crypto/tls does not at all). A
// ChangeCipherSpec is skipped; a protected record, which says the client
// took the hello, or any other is an error.
func (s *Session) ReadHelloAlert() (recordlimit.Alert, error) {
	for {
		h, body, err := s.ReadRecord()
		if err != nil {
			return 0, err
		}
		switch h.Type {
		case recordlimit.TypeAlert:
			return alertBody(body)
		case recordlimit.TypeChangeCipherSpec:
			if len(body) != 1 || body[0] != 1 {
				return 0, fmt.Errorf("malformed change_cipher_spec % x", body)
			}
		default:
			return 0, fmt.Errorf("a %v record where the refusal of the ServerHello belongs", h.Type)
		}
	}
}

// alertBody returns the description of an alert record's body, which must
// be two bytes.
func alertBody(body []byte) (recordlimit.Alert, error) {
	if len(body) != 2 {
		return 0, fmt.Errorf("alert record of %d bytes", len(body))
	}
	return recordlimit.Alert(body[1]), nil
}
