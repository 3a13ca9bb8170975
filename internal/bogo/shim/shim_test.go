package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
)

func TestParseFlags(t *testing.T) {
	for _, tt := range []struct {
		name          string
		args          []string
		unimplemented string // part of the refusal, "" when none
		err           bool   // another error
	}{
		{"minimal", []string{"-port", "1", "-shim-id", "7"}, "", false},
		{"unknown flag", []string{"-port", "1", "-async"}, "flag -async", false},
		{"refused flag", []string{"-port", "1", "-ech-config-list", "AA=="}, "-ech-config-list", false},
		{"refused bool flag", []string{"-port", "1", "-enable-early-data"}, "0-RTT", false},
		{"missing value", []string{"-port", "1", "-curves"}, "", true},
		{"bad int", []string{"-port", "1", "-curves", "x"}, "", true},
		{"bad base64", []string{"-port", "1", "-ocsp-response", "!"}, "", true},
		{"no port", []string{"-server"}, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args)
			var u *unimplementedError
			switch {
			case tt.unimplemented != "":
				if !errors.As(err, &u) || !strings.Contains(u.reason, tt.unimplemented) {
					t.Errorf("error %v, want unimplemented mentioning %q", err, tt.unimplemented)
				}
			case tt.err:
				if err == nil || errors.As(err, &u) {
					t.Errorf("error %v, want a plain error", err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			}
		})
	}
	o, err := parseFlags([]string{"-port", "1", "-curves", "29", "-curves", "23", "-advertise-alpn", "\x03foo\x02hi", "-server"})
	if err != nil {
		t.Fatal(err)
	}
	alpn, err := alpnList(o.advertiseALPN)
	if !o.server || len(o.curves) != 2 || o.curves[1] != 23 || err != nil || strings.Join(alpn, ",") != "foo,hi" {
		t.Errorf("parsed %+v, ALPN %q (%v)", o, alpn, err)
	}
}

// TestAlgorithmFlags: -curves and -verify-prefs become the client's
// CurvePreferences and SignatureSchemes, less what tlsapp's client never
// offers (X25519MLKEM768 moved first, X25519 after it); a list with
// nothing left, or a server asked to verify client signatures under
// -verify-prefs, is unimplemented.
func TestAlgorithmFlags(t *testing.T) {
	for _, tt := range []struct {
		name          string
		args          []string
		curves        []uint16
		schemes       []uint16
		unimplemented string
	}{
		{"none", nil, nil, nil, ""},
		{"P-521", []string{"-curves", "25"}, []uint16{25}, nil, ""},
		{"BoGo's AllCurves", []string{"-curves", "23", "-curves", "24", "-curves", "25", "-curves", "29",
			"-curves", "4587", "-curves", "4588", "-curves", "4589"}, []uint16{4588, 29, 23, 24, 25}, nil, ""},
		{"X25519 and P-521", []string{"-curves", "29", "-curves", "25"}, []uint16{29, 25}, nil, ""},
		{"hybrid alone", []string{"-curves", "4588"}, nil, nil, "X25519MLKEM768 without X25519"},
		{"only unsupported groups", []string{"-curves", "4587"}, nil, nil, "implements none"},
		{"verify P-521", []string{"-verify-prefs", "1539"}, nil, []uint16{0x0603}, ""},
		{"verify MD5-SHA1 and PKCS1 SHA-256", []string{"-verify-prefs", "65281", "-verify-prefs", "1025"}, nil, []uint16{0x0401}, ""},
		{"verify SHA-1 only", []string{"-verify-prefs", "513"}, nil, nil, "accepts none"},
		{"server without client certificates", []string{"-server", "-verify-prefs", "2055"}, nil, nil, ""},
		{"server verifying", []string{"-server", "-verify-prefs", "2055", "-require-any-client-certificate"}, nil, nil, "CertificateRequest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(append([]string{"-port", "1"}, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			var cfg *tlsapp.Config
			if err = o.check(); err == nil && !o.server {
				cfg, err = o.clientConfig(tlsapp.NewSessionCache(0), &countingVerifier{})
			}
			var u *unimplementedError
			if tt.unimplemented != "" {
				if !errors.As(err, &u) || !strings.Contains(u.reason, tt.unimplemented) {
					t.Fatalf("error %v, want unimplemented mentioning %q", err, tt.unimplemented)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg != nil && (!slices.Equal(cfg.CurvePreferences, tt.curves) || !slices.Equal(cfg.SignatureSchemes, tt.schemes)) {
				t.Errorf("CurvePreferences %v, SignatureSchemes %#04x; want %v, %#04x", cfg.CurvePreferences, cfg.SignatureSchemes, tt.curves, tt.schemes)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		lo, hi uint16
	}{
		{nil, tls.VersionTLS10, tls.VersionTLS13},
		{[]string{"-min-version", "771"}, tls.VersionTLS12, tls.VersionTLS13},
		{[]string{"-max-version", "770"}, tls.VersionTLS10, tls.VersionTLS11},
		{[]string{"-no-tls13"}, tls.VersionTLS10, tls.VersionTLS12},
		{[]string{"-no-tls1", "-no-tls11"}, tls.VersionTLS12, tls.VersionTLS13},
		// BoringSSL keeps the versions below a hole: 1.0 and 1.1.
		{[]string{"-no-tls12"}, tls.VersionTLS10, tls.VersionTLS11},
		// Nothing enabled: an empty range, for the library to refuse.
		{[]string{"-no-tls1", "-no-tls11", "-no-tls12", "-no-tls13"}, tls.VersionTLS13, tls.VersionTLS12},
	} {
		o, err := parseFlags(append([]string{"-port", "1"}, tt.args...))
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := o.versions(); lo != tt.lo || hi != tt.hi {
			t.Errorf("%q: %#x..%#x, want %#x..%#x", tt.args, lo, hi, tt.lo, tt.hi)
		}
	}
}

// TestRefusalRecorded: a test the shim cannot run exits 89 and records why,
// and on which side, where the runner's -write-settings points; the
// harness reads it.
func TestRefusalRecorded(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "Some-Test-")
	var out, errOut bytes.Buffer
	code := run([]string{"-port", "1", "-write-settings", prefix, "-server", "-async"}, &out, &errOut)
	if code != exitUnimplemented {
		t.Fatalf("exit %d, want %d (stderr %q)", code, exitUnimplemented, errOut.String())
	}
	b, err := os.ReadFile(prefix + "shim")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"server":true,"unimplemented":"flag -async"}` {
		t.Errorf("record %s", got)
	}
	// The runner asks about the handshaker with the extra flags in front.
	out.Reset()
	if code := run([]string{"-tlsapp-census", "-is-handshaker-supported"}, &out, &errOut); code != exitOK || out.String() != "No\n" {
		t.Errorf("-is-handshaker-supported: exit %d, output %q", code, out.String())
	}
}

// peerTest is a stand-in for BoGo's runner: it accepts the shim's
// connection on 127.0.0.1, checks the shim id, runs a crypto/tls handshake
// on the other side, writes a message and checks the echo.
type peerTest struct {
	t      *testing.T
	ln     net.Listener
	result chan error
}

func startPeer(t *testing.T, serve func(net.Conn) *tls.Conn) *peerTest {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &peerTest{t: t, ln: ln, result: make(chan error, 1)}
	go func() {
		p.result <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var id [8]byte
			if _, err := io.ReadFull(c, id[:]); err != nil {
				return err
			}
			if binary.LittleEndian.Uint64(id[:]) != 42 {
				return errors.New("wrong shim id")
			}
			tc := serve(c)
			if err := tc.Handshake(); err != nil {
				return err
			}
			msg := bytes.Repeat([]byte("bogo"), 400) // 1600 bytes: above the send limit below
			if _, err := tc.Write(msg); err != nil {
				return err
			}
			echo := make([]byte, len(msg))
			if _, err := io.ReadFull(tc, echo); err != nil {
				return err
			}
			for i := range echo {
				if echo[i] != msg[i]^0xff {
					return errors.New("echo is not the message XOR 0xff")
				}
			}
			return tc.Close()
		}()
	}()
	return p
}

func (p *peerTest) args(extra ...string) []string {
	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	return append([]string{"-port", port, "-shim-id", "42"}, extra...)
}

// TestShimAgainstCryptoTLS runs the shim both ways against crypto/tls with
// a certificate that may sign only one way, so that the signature
// algorithm on the wire is known: the shim must read it (in the clear in
// TLS 1.2, from the decrypted flight in TLS 1.3) and fail when it differs
// from -expect-peer-signature-algorithm. Run 2's offer and run 3's send
// limit are checked on the wire too.
func TestShimAgainstCryptoTLS(t *testing.T) {
	now := time.Now()
	ca := testpki.Issue(t, "bogo test CA", true, now.Add(-time.Hour), now.Add(time.Hour), nil)
	leaf := testpki.Issue(t, "test", false, now.Add(-time.Hour), now.Add(time.Hour), ca, "test")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, certFile, keyFile := write("ca.pem", ca.PEM), write("cert.pem", leaf.PEM), write("key.pem", leaf.KeyPEM)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	only := func(s tls.SignatureScheme) tls.Certificate {
		c := leaf.TLS()
		c.SupportedSignatureAlgorithms = []tls.SignatureScheme{s}
		return c
	}
	p384 := strconv.Itoa(int(tls.ECDSAWithP384AndSHA384))
	p256 := strconv.Itoa(int(tls.ECDSAWithP256AndSHA256))
	for _, tt := range []struct {
		name   string
		server bool
		vers   uint16
		scheme tls.SignatureScheme
		flags  []string
		ok     bool
	}{
		{"client/1.2", false, tls.VersionTLS12, tls.ECDSAWithP384AndSHA384, []string{"-expect-peer-signature-algorithm", p384}, true},
		{"client/1.2 wrong", false, tls.VersionTLS12, tls.ECDSAWithP384AndSHA384, []string{"-expect-peer-signature-algorithm", p256}, false},
		{"client/1.3", false, tls.VersionTLS13, tls.ECDSAWithP256AndSHA256, []string{"-expect-peer-signature-algorithm", p256}, true},
		{"client/1.3 wrong", false, tls.VersionTLS13, tls.ECDSAWithP256AndSHA256, []string{"-expect-peer-signature-algorithm", p384}, false},
		{"client/1.3 offer and cap", false, tls.VersionTLS13, tls.ECDSAWithP256AndSHA256,
			[]string{"-tlsapp-record-size-limit", "2048", "-tlsapp-max-fragment-length", "2048", "-max-send-fragment", "512"}, true},
		{"server/1.2", true, tls.VersionTLS12, tls.ECDSAWithP384AndSHA384, []string{"-expect-peer-signature-algorithm", p384}, true},
		{"server/1.3", true, tls.VersionTLS13, tls.ECDSAWithP256AndSHA256, []string{"-expect-peer-signature-algorithm", p256}, true},
		{"server/1.3 wrong", true, tls.VersionTLS13, tls.ECDSAWithP256AndSHA256, []string{"-expect-peer-signature-algorithm", p384}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert := only(tt.scheme)
			p := startPeer(t, func(c net.Conn) *tls.Conn {
				if tt.server {
					return tls.Client(c, &tls.Config{ServerName: "test", RootCAs: pool, MinVersion: tt.vers, MaxVersion: tt.vers,
						Certificates: []tls.Certificate{cert}})
				}
				return tls.Server(c, &tls.Config{MinVersion: tt.vers, MaxVersion: tt.vers, Certificates: []tls.Certificate{cert}})
			})
			args := p.args("-trust-cert", caFile)
			if tt.server {
				args = append(args, "-server", "-cert-file", certFile, "-key-file", keyFile, "-require-any-client-certificate")
			}
			var out, errOut bytes.Buffer
			code := run(append(args, tt.flags...), &out, &errOut)
			peerErr := <-p.result
			if tt.ok && (code != exitOK || peerErr != nil) {
				t.Fatalf("exit %d (%s), peer: %v", code, errOut.String(), peerErr)
			}
			if !tt.ok && (code != exitFailed || !strings.Contains(errOut.String(), "signed with")) {
				t.Fatalf("exit %d, want %d: the wrong algorithm went unnoticed (%s)", code, exitFailed, errOut.String())
			}
		})
	}
}
