package tlsapp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

var (
	extMFL = func(code ...byte) wire.Extension {
		return wire.Extension{Type: recordlimit.ExtMaxFragmentLength, Data: code}
	}
	extRSL = func(v int) wire.Extension {
		return wire.Extension{Type: recordlimit.ExtRecordSizeLimit, Data: []byte{byte(v >> 8), byte(v)}}
	}
	extRaw = func(typ uint16, data ...byte) wire.Extension {
		return wire.Extension{Type: typ, Data: data}
	}
)

// sh12 answers with a TLS 1.2 ServerHello carrying exts.
func sh12(exts ...wire.Extension) func(*scripted.Session) error {
	return func(s *scripted.Session) error { return s.SendServerHello12(exts...) }
}

// ee13 answers with a TLS 1.3 ServerHello and EncryptedExtensions carrying exts.
func ee13(exts ...wire.Extension) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		if err := s.SendServerHello13(); err != nil {
			return err
		}
		return s.SendEncrypted(recordlimit.TypeHandshake, scripted.EncryptedExtensions(exts...), 0)
	}
}

// refusedHello13 sends a TLS 1.3 ServerHello carrying exts, which the
// client must refuse before it derives any key: it reads the client's alert,
// in the clear, and returns it as an *scripted.AlertReceived.
func refusedHello13(exts ...wire.Extension) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		if err := s.SendServerHello13(exts...); err != nil {
			return err
		}
		a, err := s.ReadHelloAlert()
		if err != nil {
			return err
		}
		return &scripted.AlertReceived{Alert: a}
	}
}

// then runs the steps in order.
func then(steps ...func(*scripted.Session) error) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		for _, step := range steps {
			if err := step(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// record sends a record of n bytes of the given type.
func record(typ recordlimit.ContentType, n int) func(*scripted.Session) error {
	return func(s *scripted.Session) error { return s.SendRecord(typ, make([]byte, n)) }
}

// compressedCert sends an encrypted CompressedCertificate message (zstd)
// declaring n bytes uncompressed, with a few bytes of junk as its payload.
func compressedCert(n int) func(*scripted.Session) error {
	return func(s *scripted.Session) error {
		body := []byte{0, 3, byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 4, 1, 2, 3, 4}
		msg := append([]byte{25, 0, 0, byte(len(body))}, body...)
		return s.SendEncrypted(recordlimit.TypeHandshake, msg, 0)
	}
}

// runScript dials a scripted server and returns the client's error and the
// alert the server received (or an error if none came).
func runScript(t *testing.T, cfg Config, script func(*scripted.Session) error) (clientErr error, alert recordlimit.Alert, alertErr error) {
	t.Helper()
	got := make(chan struct{})
	addr := scripted.Serve(t, func(s *scripted.Session) error {
		defer close(got)
		if err := s.ReadClientHello(); err != nil {
			alertErr = err
			return err
		}
		if err := script(s); err != nil {
			var ar *scripted.AlertReceived
			if errors.As(err, &ar) {
				alert = ar.Alert // the script read it
			} else {
				alertErr = err
			}
			return nil // the client may have hung up first
		}
		alert, alertErr = s.ReadAlert()
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.InsecureSkipVerify = true // the scripted server never gets that far
	c, err := Dial(ctx, "tcp", addr, &cfg)
	if err == nil {
		c.Close()
		t.Fatal("handshake with a scripted server succeeded")
	}
	<-got
	return err, alert, alertErr
}

// TestNegotiationRules checks every fatal rule of RFC 6066 and RFC 8449 that
// a server's answer can break: the client's error, its alert, and the alert
// the server actually received.
func TestNegotiationRules(t *testing.T) {
	mfl512 := Config{MaxFragmentLength: 512}
	rsl512 := Config{RecordSizeLimit: 512}
	both := Config{MaxFragmentLength: 512, RecordSizeLimit: 512}
	tests := []struct {
		name   string
		cfg    Config
		script func(*scripted.Session) error
		want   error
		alert  recordlimit.Alert
	}{
		{"mfl echo differs/1.2", mfl512, sh12(extMFL(2)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"mfl echo differs/1.3", mfl512, ee13(extMFL(3)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"mfl code 5/1.2", mfl512, sh12(extMFL(5)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"mfl body 2 bytes/1.3", mfl512, ee13(extMFL(1, 1)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		{"mfl not offered/1.2", rsl512, sh12(extMFL(1)), recordlimit.ErrNegotiation, recordlimit.AlertUnsupportedExtension},
		{"mfl not offered/1.3", rsl512, ee13(extMFL(1)), recordlimit.ErrNegotiation, recordlimit.AlertUnsupportedExtension},
		{"rsl not offered/1.2", mfl512, sh12(extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertUnsupportedExtension},
		{"rsl not offered/1.3", mfl512, ee13(extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertUnsupportedExtension},
		{"nothing offered, rsl answered/1.3", Config{}, ee13(extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertUnsupportedExtension},
		{"mfl in ServerHello/1.3", mfl512, refusedHello13(extMFL(1)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl in ServerHello/1.3", rsl512, refusedHello13(extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl 63/1.2", rsl512, sh12(extRSL(63)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl 63/1.3", rsl512, ee13(extRSL(63)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl 0/1.3", rsl512, ee13(extRSL(0)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl above 16384/1.2", rsl512, sh12(extRSL(16385)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl above 16385/1.3", rsl512, ee13(extRSL(16386)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"rsl body 3 bytes/1.2", rsl512, sh12(extRaw(28, 2, 0, 0)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		{"rsl body 1 byte/1.3", rsl512, ee13(extRaw(28, 2)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		{"rsl body empty/1.3", rsl512, ee13(extRaw(28)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		{"both answered/1.2", both, sh12(extMFL(1), extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		{"both answered/1.3", both, ee13(extRSL(512), extMFL(1)), recordlimit.ErrNegotiation, recordlimit.AlertIllegalParameter},
		// A duplicate extension is malformed: decode_error, as crypto/tls
		// and BoringSSL answer it (BoGo DuplicateExtensionClient).
		{"duplicate rsl/1.2", rsl512, sh12(extRSL(512), extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		{"duplicate rsl/1.3", rsl512, ee13(extRSL(512), extRSL(512)), recordlimit.ErrNegotiation, recordlimit.AlertDecodeError},
		// Any other extension twice is a malformed message, not an answer
		// to the record-size extensions: the guard's decode_error.
		{"duplicate other extension/1.2", rsl512, sh12(extRaw(0x1234), extRaw(0x1234)), recordlimit.ErrProtocol, recordlimit.AlertDecodeError},
		{"duplicate other extension/1.3", rsl512, ee13(extRaw(0x1234), extRaw(0x1234)), recordlimit.ErrProtocol, recordlimit.AlertDecodeError},

		// Enforcement once agreed: records one byte over the limit.
		{"mfl 512 then 513-byte plaintext record/1.2", mfl512, then(sh12(extMFL(1)), record(recordlimit.TypeHandshake, 513)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"mfl 512 then 530-byte record/1.3", mfl512, then(ee13(extMFL(1)), record(recordlimit.TypeApplicationData, 512+1+16+1)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"rsl 512 then 529-byte record/1.3", rsl512, then(ee13(extRSL(1024)), record(recordlimit.TypeApplicationData, 512+16+1)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"rsl 512 then 600-byte record/1.3", rsl512, then(ee13(extRSL(16385)), record(recordlimit.TypeApplicationData, 600)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"rsl 64 then 81-byte record/1.3", Config{RecordSizeLimit: 64}, then(ee13(extRSL(64)), record(recordlimit.TypeApplicationData, 64+16+1)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		// The 16 KiB bound stays until the answer arrives: an EncryptedExtensions
		// record padded to 1000 bytes is fine, the agreed limit applies after it.
		{"rsl 512 answered in a 1000-byte record, then 529/1.3", rsl512, then(
			func(s *scripted.Session) error {
				if err := s.SendServerHello13(); err != nil {
					return err
				}
				ee := scripted.EncryptedExtensions(extRSL(512))
				return s.SendEncrypted(recordlimit.TypeHandshake, ee, 1000-16-1-len(ee))
			},
			record(recordlimit.TypeApplicationData, 529)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		// No answer: the protocol maximum holds.
		{"no answer, 16641-byte record/1.3", rsl512, then(ee13(), record(recordlimit.TypeApplicationData, wire.MaxCiphertextTLS13+1)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		{"no answer, 16385-byte plaintext record/1.2", rsl512, then(sh12(), record(recordlimit.TypeHandshake, recordlimit.MaxPlaintext+1)), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
		// A compressed Certificate (RFC 8879) declaring 16 MiB: refused
		// before the TLS stack would allocate it.
		{"compressed certificate declares 16 MiB/1.3", rsl512, then(ee13(), compressedCert(0xffffff)), recordlimit.ErrProtocol, recordlimit.AlertBadCertificate},
		{"compressed certificate declares 64 KiB + 1/1.3", rsl512, then(ee13(), compressedCert(wire.MaxCertificateSize+1)), recordlimit.ErrProtocol, recordlimit.AlertBadCertificate},
		// Malformed framing.
		{"unknown record type", rsl512, record(24, 10), recordlimit.ErrBadRecord, 0},
		{"record longer than any version allows", rsl512, record(recordlimit.TypeHandshake, wire.MaxCiphertextTLS12+1), recordlimit.ErrRecordOverflow, recordlimit.AlertRecordOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, alert, alertErr := runScript(t, tt.cfg, tt.script)
			if !errors.Is(err, tt.want) {
				t.Fatalf("client error = %v, want %v", err, tt.want)
			}
			if tt.alert == 0 {
				return
			}
			if a, ok := recordlimit.AlertOf(err); !ok || a != tt.alert {
				t.Errorf("error maps to alert %v (%v), want %v", a, ok, tt.alert)
			}
			if alertErr != nil {
				t.Fatalf("server received no alert: %v", alertErr)
			}
			if alert != tt.alert {
				t.Errorf("server received alert %v, want %v", alert, tt.alert)
			}
		})
	}
}

// TestWithinLimitAccepted checks the boundary cases of the tests above: a
// record exactly at the limit passes the record layer (the scripted bytes
// then fail in the TLS stack, but not as an overflow or a negotiation error).
func TestWithinLimitAccepted(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		script func(*scripted.Session) error
	}{
		{"mfl 512, 512-byte plaintext record/1.2", Config{MaxFragmentLength: 512}, then(sh12(extMFL(1)), record(recordlimit.TypeHandshake, 512))},
		{"mfl 512, 529-byte record/1.3", Config{MaxFragmentLength: 512}, then(ee13(extMFL(1)), record(recordlimit.TypeApplicationData, 529))},
		{"rsl 512, 528-byte record/1.3", Config{RecordSizeLimit: 512}, then(ee13(extRSL(512)), record(recordlimit.TypeApplicationData, 528))},
		{"rsl 64 accepted/1.3", Config{RecordSizeLimit: 64}, then(ee13(extRSL(64)), record(recordlimit.TypeApplicationData, 80))},
		{"rsl 16385 accepted/1.3", Config{RecordSizeLimit: 16385}, then(ee13(extRSL(16385)), record(recordlimit.TypeApplicationData, 16385+16))},
		// RSL does not bind unprotected TLS 1.2 records.
		{"rsl 512, 16384-byte plaintext record/1.2", Config{RecordSizeLimit: 512}, then(sh12(extRSL(1024)), record(recordlimit.TypeHandshake, 16384))},
		{"no answer, 16640-byte record/1.3", Config{RecordSizeLimit: 512}, then(ee13(), record(recordlimit.TypeApplicationData, wire.MaxCiphertextTLS13))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err, _, _ := runScript(t, tt.cfg, tt.script)
			if errors.Is(err, recordlimit.ErrRecordOverflow) || errors.Is(err, recordlimit.ErrNegotiation) {
				t.Fatalf("record at the limit rejected: %v", err)
			}
		})
	}
}

// TestOfferEncoding checks what the ClientHello carries: exactly one MFL
// byte for each code, the RSL value in two bytes, only AEAD suites, and a
// ClientHello kept within the offered fragment length.
func TestOfferEncoding(t *testing.T) {
	tests := []struct {
		cfg      Config
		mfl, rsl []byte
	}{
		{Config{MaxFragmentLength: 512}, []byte{1}, nil},
		{Config{MaxFragmentLength: 1024}, []byte{2}, nil},
		{Config{MaxFragmentLength: 2048}, []byte{3}, nil},
		{Config{MaxFragmentLength: 4096}, []byte{4}, nil},
		{Config{RecordSizeLimit: 64}, nil, []byte{0, 64}},
		{Config{RecordSizeLimit: 16385}, nil, []byte{0x40, 0x01}},
		{Config{MaxFragmentLength: 512, RecordSizeLimit: 2048, PostQuantum: true}, []byte{1}, []byte{0x08, 0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("mfl=%d,rsl=%d", tt.cfg.MaxFragmentLength, tt.cfg.RecordSizeLimit), func(t *testing.T) {
			var hello *scripted.Session
			var sizes []int
			done := make(chan struct{})
			addr := scripted.Serve(t, func(s *scripted.Session) error {
				defer close(done)
				hello = s
				for {
					h, body, err := s.ReadRecord()
					if err != nil {
						return err
					}
					sizes = append(sizes, h.Len)
					s.HelloMsg = append(s.HelloMsg, body...)
					if len(s.HelloMsg) >= 4 && len(s.HelloMsg) >= 4+int(s.HelloMsg[1])<<16|int(s.HelloMsg[2])<<8|int(s.HelloMsg[3]) {
						break
					}
				}
				var err error
				s.Hello, err = guard.ParseClientHello(s.HelloMsg[4:])
				return err
			})
			cfg := tt.cfg
			cfg.InsecureSkipVerify = true
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if c, err := Dial(ctx, "tcp", addr, &cfg); err == nil {
				c.Close()
			}
			<-done
			if hello == nil || hello.Hello.Random == nil {
				t.Fatal("no ClientHello received")
			}
			mfl, haveMFL := hello.Ext(recordlimit.ExtMaxFragmentLength)
			rsl, haveRSL := hello.Ext(recordlimit.ExtRecordSizeLimit)
			if haveMFL != (tt.mfl != nil) || !bytes.Equal(mfl, tt.mfl) {
				t.Errorf("max_fragment_length = %x (present %v), want %x", mfl, haveMFL, tt.mfl)
			}
			if haveRSL != (tt.rsl != nil) || !bytes.Equal(rsl, tt.rsl) {
				t.Errorf("record_size_limit = %x (present %v), want %x", rsl, haveRSL, tt.rsl)
			}
			for _, s := range hello.Hello.Suites {
				name := tls.CipherSuiteName(s)
				if !bytes.Contains([]byte(name), []byte("GCM")) && !bytes.Contains([]byte(name), []byte("CHACHA20")) {
					t.Errorf("offered non-AEAD suite %s", name)
				}
			}
			if limit := cfg.MaxFragmentLength; limit != 0 {
				for _, n := range sizes {
					if n > limit {
						t.Errorf("ClientHello record of %d bytes exceeds the offered fragment length %d (records %v)", n, limit, sizes)
					}
				}
			}
		})
	}
}

// TestHelloRetryKeepsOffer checks that the second ClientHello after a
// HelloRetryRequest carries the same record-size extensions (rule 17).
func TestHelloRetryKeepsOffer(t *testing.T) {
	var first, second *scripted.Session
	done := make(chan struct{})
	addr := scripted.Serve(t, func(s *scripted.Session) error {
		defer close(done)
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		first = &scripted.Session{Hello: s.Hello}
		if err := s.SendHelloRetryRequest13(); err != nil {
			return err
		}
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		second = &scripted.Session{Hello: s.Hello}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, "tcp", addr, &Config{MaxFragmentLength: 1024, RecordSizeLimit: 1000, InsecureSkipVerify: true})
	if err == nil {
		c.Close()
	}
	<-done
	if first == nil || second == nil {
		t.Fatalf("server did not see two ClientHellos (client error %v)", err)
	}
	for _, typ := range []uint16{recordlimit.ExtMaxFragmentLength, recordlimit.ExtRecordSizeLimit} {
		a, okA := first.Ext(typ)
		b, okB := second.Ext(typ)
		if !okA || !okB || !bytes.Equal(a, b) {
			t.Errorf("extension %d: first %x (%v), second %x (%v)", typ, a, okA, b, okB)
		}
	}
}

// TestConfigErrors checks that invalid offers are refused before anything
// is sent.
func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{MaxFragmentLength: 8192},
		{MaxFragmentLength: 100},
		{RecordSizeLimit: 63},
		{RecordSizeLimit: 16386},
		{RecordSizeLimit: 16385, MaxVersion: tls.VersionTLS12},
		{MinVersion: tls.VersionTLS11},
		{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
	} {
		c := Client(nil, &cfg)
		if err := c.Handshake(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: Handshake error = %v, want ErrConfig", cfg, err)
		}
	}
}
