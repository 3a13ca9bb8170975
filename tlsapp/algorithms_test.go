package tlsapp

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// configErr returns the error Client reports for cfg before any byte is
// sent.
func configErr(t *testing.T, cfg *Config) error {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	b.Close() // a valid Config fails on the closed pipe instead
	return Client(a, cfg).Handshake()
}

// TestAlgorithmListsValidated: a code point the client does not implement
// is refused at config time with an *UnsupportedError naming it, never
// dropped from the offer; so are an empty list and a duplicate.
func TestAlgorithmListsValidated(t *testing.T) {
	sha1 := uint16(tls.PKCS1WithSHA1)
	for _, tc := range []struct {
		name  string
		sigs  []uint16
		curvs []uint16
		max   uint16
		field string // "" for no error, "-" for ErrConfig without *UnsupportedError
		value uint16
	}{
		{"defaults", nil, nil, 0, "", 0},
		{"P-521 signature", []uint16{uint16(tls.ECDSAWithP521AndSHA512)}, nil, 0, "", 0},
		{"every supported scheme", SupportedSignatureSchemes(), nil, 0, "", 0},
		{"PKCS1 SHA-1", []uint16{uint16(tls.PSSWithSHA256), sha1}, nil, 0, "SignatureSchemes", sha1},
		{"ECDSA SHA-1", []uint16{uint16(tls.ECDSAWithSHA1)}, nil, 0, "SignatureSchemes", uint16(tls.ECDSAWithSHA1)},
		{"MD5-SHA1 (BoringSSL's internal value)", []uint16{0xff01}, nil, 0, "SignatureSchemes", 0xff01},
		{"zero", []uint16{0}, nil, 0, "SignatureSchemes", 0},
		{"empty schemes", []uint16{}, nil, 0, "-", 0},
		{"duplicate scheme", []uint16{0x0804, 0x0403, 0x0804}, nil, 0, "-", 0},
		{"P-521 group", nil, []uint16{uint16(tls.CurveP521)}, 0, "", 0},
		{"every supported group", nil, SupportedCurves(), 0, "", 0},
		{"SecP256r1MLKEM768", nil, []uint16{29, 4587}, 0, "CurvePreferences", 4587},
		{"Kyber draft", nil, []uint16{0x6399}, 0, "CurvePreferences", 0x6399},
		{"FFDHE", nil, []uint16{0x0100}, 0, "CurvePreferences", 0x0100},
		{"empty groups", nil, []uint16{}, 0, "-", 0},
		{"duplicate group", nil, []uint16{23, 23}, 0, "-", 0},
		{"hybrid alone in TLS 1.2", nil, []uint16{4588}, tls.VersionTLS12, "-", 0},
		{"hybrid and P-256 in TLS 1.2", nil, []uint16{4588, 23}, tls.VersionTLS12, "", 0},
		{"hybrid and X25519", nil, []uint16{4588, 29, 23}, 0, "", 0},
		{"hybrid and P-256", nil, []uint16{4588, 23, 29}, 0, "-", 0},
		{"hybrid alone", nil, []uint16{4588}, 0, "-", 0},
		{"hybrid second", nil, []uint16{29, 4588}, 0, "-", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := configErr(t, &Config{ServerName: "x", SignatureSchemes: tc.sigs, CurvePreferences: tc.curvs, MaxVersion: tc.max})
			if tc.field == "" {
				if errors.Is(err, ErrConfig) {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v, want ErrConfig", err)
			}
			var ue *UnsupportedError
			switch {
			case tc.field == "-" && errors.As(err, &ue):
				t.Fatalf("error %v is an *UnsupportedError", err)
			case tc.field != "-" && !errors.As(err, &ue):
				t.Fatalf("error %v, want an *UnsupportedError", err)
			case tc.field != "-" && (ue.Field != tc.field || ue.Value != tc.value):
				t.Fatalf("UnsupportedError{%s, %#04x}, want {%s, %#04x}", ue.Field, ue.Value, tc.field, tc.value)
			}
		})
	}
	// PostQuantum puts X25519MLKEM768 first: X25519 must follow it.
	for _, prefs := range [][]uint16{{23, 29}, {23}} {
		if err := configErr(t, &Config{ServerName: "x", PostQuantum: true, CurvePreferences: prefs}); !errors.Is(err, ErrConfig) {
			t.Errorf("PostQuantum with CurvePreferences %v: error %v, want ErrConfig", prefs, err)
		}
	}
	if err := configErr(t, &Config{ServerName: "x", PostQuantum: true, CurvePreferences: []uint16{29, 23}}); errors.Is(err, ErrConfig) {
		t.Errorf("PostQuantum with CurvePreferences X25519, P-256 refused: %v", err)
	}
}

// helloSeen runs a handshake against a crypto/tls server configured by
// scfg and returns what the server parsed from the ClientHello, the
// client's error, the server's error and the group the server used.
type helloSeen struct {
	schemes   []tls.SignatureScheme
	curves    []tls.CurveID
	clientErr error
	serverErr error
	group     tls.CurveID
}

func handshakeGo(t *testing.T, scfg *tls.Config, cfg Config) helloSeen {
	t.Helper()
	var seen helloSeen
	scfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		seen.schemes, seen.curves = slices.Clone(h.SignatureSchemes), slices.Clone(h.SupportedCurves)
		return nil, nil
	}
	done := make(chan struct{})
	addr := startGoServer(t, scfg, func(c *tls.Conn) {
		defer close(done)
		seen.serverErr = c.Handshake()
		seen.group = c.ConnectionState().CurveID
		if seen.serverErr == nil {
			c.Write([]byte("ok"))
		}
		c.Close()
	})
	if cfg.ServerName == "" {
		cfg.ServerName, cfg.RootCAs = "localhost", newTestPKI(t).Pool
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "tcp", addr, &cfg)
	seen.clientErr = err
	if err == nil {
		c.Close()
	}
	<-done
	return seen
}

func schemes(s []uint16) []tls.SignatureScheme {
	out := make([]tls.SignatureScheme, len(s))
	for i, v := range s {
		out[i] = tls.SignatureScheme(v)
	}
	return out
}

// p521Cert is a server certificate for localhost with a P-521 key, signed
// by the test CA.
func p521Cert(t *testing.T) tls.Certificate {
	t.Helper()
	p := newTestPKI(t)
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(521), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestSignatureSchemesWithGoServer: crypto/tls, as the server, reads the
// client's signature_algorithms as Config.SignatureSchemes sets it
// (DefaultSignatureSchemes without it), and signs with an offered scheme
// its key can make; a key that can make none of them fails the handshake
// on the server's side (handshake_failure). ecdsa_secp521r1_sha512 is
// offered only when listed. In TLS 1.2 an ECDSA scheme names only the hash
// (RFC 8446, Section 4.2.3), so a P-256 or P-521 key signs with any.
func TestSignatureSchemesWithGoServer(t *testing.T) {
	p256 := newTestPKI(t).Server
	p521 := p521Cert(t)
	ecdsaP256 := uint16(tls.ECDSAWithP256AndSHA256)
	ecdsaP521 := uint16(tls.ECDSAWithP521AndSHA512)
	pss := uint16(tls.PSSWithSHA256)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range []struct {
			name       string
			cert       tls.Certificate
			offer      []uint16
			ok12, ok13 bool
		}{
			{"default, P-256 key", p256, nil, true, true},
			{"P-256 scheme only, P-256 key", p256, []uint16{ecdsaP256}, true, true},
			{"PSS and P-384 scheme, P-256 key", p256, []uint16{pss, uint16(tls.ECDSAWithP384AndSHA384)}, true, false},
			{"PSS and Ed25519, P-256 key", p256, []uint16{pss, uint16(tls.Ed25519)}, false, false},
			{"default, P-521 key", p521, nil, true, false},
			{"P-521 scheme, P-521 key", p521, []uint16{pss, ecdsaP521}, true, true},
			{"PSS only, P-521 key", p521, []uint16{pss}, false, false},
		} {
			t.Run(tls.VersionName(v)+"/"+tc.name, func(t *testing.T) {
				seen := handshakeGo(t, &tls.Config{MinVersion: v, MaxVersion: v, Certificates: []tls.Certificate{tc.cert}},
					Config{SignatureSchemes: tc.offer})
				want := tc.offer
				if want == nil {
					want = DefaultSignatureSchemes()
				}
				if !slices.Equal(seen.schemes, schemes(want)) {
					t.Errorf("the server read signature_algorithms %v, want %v", seen.schemes, schemes(want))
				}
				if (v == tls.VersionTLS12 && tc.ok12) || (v == tls.VersionTLS13 && tc.ok13) {
					if seen.clientErr != nil || seen.serverErr != nil {
						t.Fatalf("client: %v; server: %v", seen.clientErr, seen.serverErr)
					}
					return
				}
				var ae *AlertError
				if !errors.As(seen.clientErr, &ae) || !ae.Remote || ae.Alert != recordlimit.AlertHandshakeFailure {
					t.Errorf("client error %v, want handshake_failure from the server", seen.clientErr)
				}
				if seen.serverErr == nil {
					t.Error("the server completed the handshake")
				}
			})
		}
	}
	if slices.Contains(DefaultSignatureSchemes(), ecdsaP521) || !slices.Contains(SupportedSignatureSchemes(), ecdsaP521) {
		t.Error("ecdsa_secp521r1_sha512 must be supported and not a default")
	}
}

// ignoringServers are scripted servers that ignore the client's offer:
// they sign with ecdsa_secp256r1_sha256 and use X25519, whatever the
// client offers; the TLS 1.3 ones send the flight a message per record,
// whole in one record, or cut into records of one and three bytes (the
// CertificateVerify's algorithm then spans records).
func ignoringServers(t *testing.T) map[string]func(*scripted.Session) error {
	chain := newTestPKI(t).Server
	key := chain.PrivateKey.(crypto.Signer)
	// flight13 sends the TLS 1.3 flight in records of n bytes (0: the
	// whole flight in one record).
	flight13 := func(n int) func(*scripted.Session) error {
		return func(s *scripted.Session) error {
			if err := s.ReadClientHello(); err != nil {
				return err
			}
			if err := s.SendServerHello13(); err != nil {
				return err
			}
			msgs, err := s.Flight13(scripted.EncryptedExtensions(), chain.Certificate, key, nil)
			if err != nil {
				return err
			}
			flight := slices.Concat(msgs...)
			if n == 0 {
				n = len(flight)
			}
			for b := range slices.Chunk(flight, n) {
				if err := s.SendEncrypted(recordlimit.TypeHandshake, b, 0); err != nil {
					return err
				}
			}
			if err := s.Complete13(); err != nil {
				return err
			}
			return s.SendApp([]byte("ok"))
		}
	}
	return map[string]func(*scripted.Session) error{
		"TLS 1.3":                         scripted.CertServer(chain.Certificate, key, scripted.Zstd, func(s *scripted.Session) error { return s.SendApp([]byte("ok")) }),
		"TLS 1.3, flight in one record":   flight13(0),
		"TLS 1.3, one byte per record":    flight13(1),
		"TLS 1.3, three bytes per record": flight13(3),
		"TLS 1.2":                         (&scripted.Server12{Chain: chain.Certificate, Key: key, Body: []byte("ok")}).Serve,
	}
}

// dialScripted runs serve against a client with cfg and returns the
// client's error and, when the handshake failed, the alert the server
// received.
func dialScripted(t *testing.T, serve func(*scripted.Session) error, cfg Config) (clientErr error, alert recordlimit.Alert, alertErr error) {
	t.Helper()
	got := make(chan struct{})
	failed := make(chan bool, 1)
	addr := scripted.Serve(t, func(s *scripted.Session) error {
		defer close(got)
		err := serve(s)
		var ar *scripted.AlertReceived
		switch {
		case errors.As(err, &ar):
			alert = ar.Alert
		case err == nil && <-failed:
			alert, alertErr = s.ReadAlert()
		default:
			alertErr = err
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg.ServerName, cfg.RootCAs = "localhost", newTestPKI(t).Pool
	c, err := Dial(ctx, "tcp", addr, &cfg)
	failed <- err != nil
	if err == nil {
		c.Close()
	}
	<-got
	return err, alert, alertErr
}

// checkRefused checks that the client sent illegal_parameter and the
// server received it.
func checkRefused(t *testing.T, clientErr error, alert recordlimit.Alert, alertErr error) {
	t.Helper()
	var ae *AlertError
	if !errors.As(clientErr, &ae) || ae.Remote || ae.Alert != recordlimit.AlertIllegalParameter {
		t.Errorf("client error %v, want illegal_parameter sent", clientErr)
	}
	if alertErr != nil || alert != recordlimit.AlertIllegalParameter {
		t.Errorf("the server received alert %v (%v), want illegal_parameter", alert, alertErr)
	}
}

// TestServerSignatureOutsideOffer: a server that ignores the offer and
// signs with ecdsa_secp256r1_sha256 is refused with illegal_parameter,
// which the server receives, when the client did not offer that scheme;
// and accepted when it did. In TLS 1.3 utls checks the scheme only against
// those it implements: the guard holds the server to the offer (before it
// did, the TLS 1.3 handshake below succeeded). In TLS 1.2 utls checks the
// ServerKeyExchange against the ClientHello itself.
func TestServerSignatureOutsideOffer(t *testing.T) {
	for name, serve := range ignoringServers(t) {
		for _, tc := range []struct {
			name  string
			offer []uint16
			ok    bool
		}{
			{"offered", []uint16{uint16(tls.PSSWithSHA256), uint16(tls.ECDSAWithP256AndSHA256)}, true},
			{"not offered", []uint16{uint16(tls.PSSWithSHA256), uint16(tls.ECDSAWithP384AndSHA384), uint16(tls.Ed25519)}, false},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				err, alert, alertErr := dialScripted(t, serve, Config{SignatureSchemes: tc.offer})
				if tc.ok {
					if err != nil {
						t.Fatalf("client: %v", err)
					}
					return
				}
				checkRefused(t, err, alert, alertErr)
			})
		}
	}
}

// TestServerGroupOutsideOffer: a server that ignores the offer and uses
// X25519 is refused with illegal_parameter, which the server receives,
// when the client did not offer X25519; and accepted when it did. In TLS
// 1.2 utls takes any group it implements from a ServerKeyExchange (crypto/tls
// checks the offer): the guard holds the server to the offer (before it
// did, the TLS 1.2 handshake below succeeded). (In TLS 1.3 utls refuses a
// key share for a group it sent none for; the scripted server cannot send
// one, and BoGo's UnsupportedCurve-ServerHello-TLS13 shows it.)
func TestServerGroupOutsideOffer(t *testing.T) {
	for name, serve := range ignoringServers(t) {
		if name != "TLS 1.2" {
			continue
		}
		for _, tc := range []struct {
			name  string
			offer []uint16
			ok    bool
		}{
			{"offered", []uint16{uint16(tls.X25519), uint16(tls.CurveP256)}, true},
			{"not offered", []uint16{uint16(tls.CurveP256), uint16(tls.CurveP521)}, false},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				err, alert, alertErr := dialScripted(t, serve, Config{CurvePreferences: tc.offer})
				if tc.ok {
					if err != nil {
						t.Fatalf("client: %v", err)
					}
					return
				}
				checkRefused(t, err, alert, alertErr)
			})
		}
	}
}

// TestCurvePreferencesWithGoServer: crypto/tls, as the server, reads the
// client's supported_groups as Config.CurvePreferences sets it (X25519,
// P-256, P-384 without it; X25519MLKEM768 in front with PostQuantum in TLS
// 1.3) and agrees on P-521 only when it is listed.
func TestCurvePreferencesWithGoServer(t *testing.T) {
	def := []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range []struct {
			name   string
			prefs  []uint16
			pq     bool
			server []tls.CurveID // the server's CurvePreferences
			want   []tls.CurveID // what the server reads
			group  tls.CurveID   // 0: the handshake fails
		}{
			{"default", nil, false, nil, def, tls.X25519},
			{"default, P-521 server", nil, false, []tls.CurveID{tls.CurveP521}, def, 0},
			{"P-521", []uint16{25}, false, nil, []tls.CurveID{tls.CurveP521}, tls.CurveP521},
			{"P-521 first, P-521 server", []uint16{25, 29}, false, []tls.CurveID{tls.CurveP521}, []tls.CurveID{tls.CurveP521, tls.X25519}, tls.CurveP521},
			{"P-256 first, X25519 server", []uint16{23, 29}, false, []tls.CurveID{tls.X25519}, []tls.CurveID{tls.CurveP256, tls.X25519}, tls.X25519},
			{"post-quantum, X25519 and P-256", []uint16{29, 23}, true, nil, nil, tls.X25519}, // want set below
		} {
			t.Run(tls.VersionName(v)+"/"+tc.name, func(t *testing.T) {
				want := tc.want
				group := tc.group
				if tc.pq {
					want = []tls.CurveID{tls.X25519, tls.CurveP256}
					if v == tls.VersionTLS13 {
						want = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}
						group = tls.X25519MLKEM768
					}
				}
				seen := handshakeGo(t, &tls.Config{MinVersion: v, MaxVersion: v, CurvePreferences: tc.server},
					Config{CurvePreferences: tc.prefs, PostQuantum: tc.pq, MaxVersion: v})
				if !slices.Equal(seen.curves, want) {
					t.Errorf("the server read supported_groups %v, want %v", seen.curves, want)
				}
				if group == 0 {
					if seen.clientErr == nil || seen.serverErr == nil {
						t.Fatalf("the handshake succeeded with group %v", seen.group)
					}
					return
				}
				if seen.clientErr != nil || seen.serverErr != nil {
					t.Fatalf("client: %v; server: %v", seen.clientErr, seen.serverErr)
				}
				if seen.group != group {
					t.Errorf("group %v, want %v", seen.group, group)
				}
			})
		}
	}
}
