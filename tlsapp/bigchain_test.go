package tlsapp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// padOID names the private extension that makes test certificates large.
var padOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 20, 1}

// paddedLeaf returns a server certificate for localhost and 127.0.0.1,
// signed by the test CA, that carries pad bytes in a non-critical private
// extension: a leaf as large as a chain of several RSA-4096 certificates.
func paddedLeaf(t *testing.T, pad int) tls.Certificate {
	t.Helper()
	p := newTestPKI(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(20), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: padOID, Value: make([]byte, pad)}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// fillerCert returns a self-signed Ed25519 certificate (a fixed-size
// signature) whose DER encoding is exactly n bytes; it verifies nothing and
// rides in a chain as an unused intermediate.
func fillerCert(t *testing.T, n int) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := max(n-400, 0)
	for range 16 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(21), Subject: pkix.Name{CommonName: "filler"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: padOID, Value: make([]byte, pad)}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		if len(der) == n {
			return der
		}
		pad += n - len(der)
	}
	t.Fatalf("no filler certificate of exactly %d bytes", n)
	return nil
}

// certificateMessageLen returns the length field of the Certificate
// message that carries chain (without per-certificate extensions in TLS
// 1.3, and an empty request context).
func certificateMessageLen(v uint16, chain [][]byte) int {
	n, per := 3, 3
	if v == tls.VersionTLS13 {
		n, per = 4, 5
	}
	for _, c := range chain {
		n += per + len(c)
	}
	return n
}

// chainOfSize returns cert with a filler certificate added to its chain so
// that its Certificate message in version v declares exactly n bytes.
func chainOfSize(t *testing.T, v uint16, cert tls.Certificate, n int) tls.Certificate {
	t.Helper()
	per := 3
	if v == tls.VersionTLS13 {
		per = 5
	}
	filler := fillerCert(t, n-certificateMessageLen(v, cert.Certificate)-per)
	cert.Certificate = append(append([][]byte(nil), cert.Certificate...), filler)
	if got := certificateMessageLen(v, cert.Certificate); got != n {
		t.Fatalf("chain makes a %d-byte Certificate message, want %d", got, n)
	}
	return cert
}

// startLineServer serves through NewListener: each connection reads one
// line, writes it back and closes. Handshake errors go to errs.
func startLineServer(t *testing.T, cfg *tls.Config, opts ServerOptions, errs chan<- error) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, cfg, opts)
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		sc := c.(*ServerConn)
		err := sc.HandshakeContext(context.Background())
		if errs != nil {
			errs <- err
		}
		if err != nil {
			// Read what the client still sends, so that closing with
			// unread bytes does not reset the connection before the
			// client reads the alert.
			io.Copy(io.Discard, sc.raw)
			return
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		io.WriteString(c, line)
		sc.CloseWrite()
	})
	return inner.Addr().String()
}

// TestListenerServesLargeChain: a NewListener server whose certificate is
// about 70 KB (above the 64 KiB bound of other handshake messages) serves
// our client and openssl s_client end to end in TLS 1.2 and 1.3, with every
// record an independent relay sees within the cap (issue 20; before the
// fix the TLS 1.3 server's reassembler refused the >64 KiB Certificate
// silently, never saw Finished, and sealed application data with the
// handshake keys: "record does not decrypt").
func TestListenerServesLargeChain(t *testing.T) {
	leakCheck(t)
	cert := paddedLeaf(t, 70_000)
	if n := len(cert.Certificate[0]); n < 70_000 || n > 72_000 {
		t.Fatalf("certificate of %d bytes", n)
	}
	const capBytes = 2048
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v}
			relay := newRelay(t, startLineServer(t, cfg, ServerOptions{MaxRecord: capBytes}, nil))
			bound := serverRecordBound(v, capBytes)
			checkWire := func(t *testing.T, from int) {
				t.Helper()
				recs := relay.records(1)[from:]
				total := 0
				for i, r := range recs {
					total += r.Len
					if r.Len > bound {
						t.Errorf("server record %d (type %d) is %d bytes, the cap allows %d", i, r.Type, r.Len, bound)
					}
				}
				if total < 70_000 {
					t.Errorf("the server sent %d bytes in all, less than its chain", total)
				}
			}

			t.Run("tlsapp", func(t *testing.T) {
				from := len(relay.records(1))
				c := dialTest(t, relay.Addr(), Config{MinVersion: v, MaxVersion: v})
				c.SetDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.WriteString(c, "ping\n"); err != nil {
					t.Fatal(err)
				}
				got, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || got != "ping\n" {
					t.Fatalf("read %q, %v", got, err)
				}
				c.Close()
				checkWire(t, from)
			})

			t.Run("openssl", func(t *testing.T) {
				bin := peerproc.Require(t, "openssl", "openssl")
				caFile, _, _ := pemFiles(t)
				from := len(relay.records(1))
				flag := "-tls1_2"
				if v == tls.VersionTLS13 {
					flag = "-tls1_3"
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, bin, "s_client", "-connect", relay.Addr(), flag,
					"-CAfile", caFile, "-verify_return_error", "-servername", "localhost", "-ign_eof", "-quiet")
				cmd.Stdin = strings.NewReader("ping from openssl\n")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("openssl s_client: %v\n%s", err, out)
				}
				if !strings.Contains(string(out), "ping from openssl\n") {
					t.Fatalf("openssl did not get the line back:\n%s", out)
				}
				checkWire(t, from)
			})
		})
	}
}

// TestCertificateMessageBound: both guards apply crypto/tls's bound on a
// Certificate message, 256 KiB, on both sides of it: a peer's Certificate
// of exactly 256 KiB is accepted and the connection carries data; one of
// 256 KiB + 1 is refused with decode_error, which the peer (crypto/tls)
// reports receiving. The client guard faces a crypto/tls server; the
// server guard (NewListener) faces a crypto/tls client's certificate.
// (Without the guards the stacks refuse with internal_error.)
func TestCertificateMessageBound(t *testing.T) {
	p := newTestPKI(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, n := range []int{wire.MaxCertificateMessage, wire.MaxCertificateMessage + 1} {
			ok := n <= wire.MaxCertificateMessage
			t.Run(fmt.Sprintf("client guard/%s/%d", versionName(v), n), func(t *testing.T) {
				leakCheck(t)
				cert := chainOfSize(t, v, p.Server, n)
				errs := make(chan error, 1)
				addr := startGoServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: v, MaxVersion: v},
					func(c *tls.Conn) {
						c.SetDeadline(time.Now().Add(20 * time.Second))
						err := c.Handshake()
						errs <- err
						if err == nil {
							io.WriteString(c, "ok\n")
							io.Copy(io.Discard, c)
						}
					})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c, err := Dial(ctx, "tcp", addr, &Config{ServerName: "localhost", RootCAs: p.Pool, MinVersion: v, MaxVersion: v})
				if ok {
					if err != nil {
						t.Fatalf("a %d-byte Certificate refused: %v", n, err)
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					got, err := bufio.NewReader(c).ReadString('\n')
					if got != "ok\n" {
						t.Fatalf("read %q, %v", got, err)
					}
					if err := <-errs; err != nil {
						t.Fatalf("server: %v", err)
					}
					return
				}
				if err == nil {
					c.Close()
					t.Fatalf("a %d-byte Certificate accepted", n)
				}
				if !errors.Is(err, recordlimit.ErrProtocol) {
					t.Errorf("client error %v, want ErrProtocol", err)
				}
				if a, _ := recordlimit.AlertOf(err); a != recordlimit.AlertDecodeError {
					t.Errorf("client error %v carries alert %v, want decode_error", err, a)
				}
				if serr := <-errs; serr == nil || !strings.Contains(serr.Error(), "remote error: tls: error decoding message") {
					t.Errorf("server handshake: %v, want the client's decode_error", serr)
				}
			})
			t.Run(fmt.Sprintf("server guard/%s/%d", versionName(v), n), func(t *testing.T) {
				leakCheck(t)
				clientCert := chainOfSize(t, v, bigClientChain(t), n)
				errs := make(chan error, 1)
				addr := startLineServer(t, &tls.Config{Certificates: []tls.Certificate{p.Server}, MinVersion: v, MaxVersion: v,
					ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.Pool}, ServerOptions{}, errs)
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c := tls.Client(raw, &tls.Config{ServerName: "localhost", RootCAs: p.Pool, MinVersion: v, MaxVersion: v,
					Certificates: []tls.Certificate{clientCert}})
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				// In TLS 1.3 the client's handshake ends before the server
				// reads its certificate: the refusal comes with the answer.
				_, err = io.WriteString(c, "ping\n")
				var got string
				if err == nil {
					got, err = bufio.NewReader(c).ReadString('\n')
				}
				serr := <-errs
				if ok {
					if got != "ping\n" || serr != nil {
						t.Fatalf("a %d-byte client Certificate: read %q, %v; server: %v", n, got, err, serr)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), "remote error: tls: error decoding message") {
					t.Errorf("client: read %q, %v; want the server's decode_error", got, err)
				}
				if serr == nil {
					t.Errorf("server accepted a %d-byte client Certificate", n)
				} else if !errors.Is(serr, recordlimit.ErrProtocol) {
					t.Errorf("server error %v, want ErrProtocol", serr)
				}
			})
		}
	}
}
