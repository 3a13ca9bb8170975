package tlsapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// cbcRecord is the length of the record Go's crypto/tls (and OpenSSL)
// send for n content bytes in a TLS 1.2 AES-CBC suite with a mac-byte
// MAC: an explicit IV, and the content, MAC and padding length byte
// padded to whole blocks with as little padding as can be.
func cbcRecord(n, mac int) int { return 16 + (n+mac+1+15)/16*16 }

// macLen is the HMAC length of a TLS 1.2 AES-CBC suite, read from its name.
func macLen(t *testing.T, suite uint16) int {
	name := tls.CipherSuiteName(suite)
	switch {
	case strings.HasSuffix(name, "_CBC_SHA"):
		return 20
	case strings.HasSuffix(name, "_CBC_SHA256"):
		return 32
	}
	t.Fatalf("%s is not an AES-CBC suite", name)
	return 0
}

// startModemServer serves data through NewListener with a cap of maxRecord
// (0: none, crypto/tls's own 16 KiB records), TLS 1.2 with the modem's
// suites enabled, as an edge for modems configures it.
func startModemServer(t *testing.T, maxRecord int, data []byte) string {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, CipherSuites: ModemCipherSuites()}
	testnet.Serve(t, NewListener(inner, cfg, ServerOptions{MaxRecord: maxRecord}), 30*time.Second, func(c net.Conn) {
		c.Write(data)
		c.(*ServerConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
	return inner.Addr().String()
}

func modemDial(t *testing.T, addr string, cfg *Config) (*Conn, error) {
	t.Helper()
	cfg.RootCAs = newTestPKI(t).Pool
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "tcp", addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestModemStandIn checks the modem stand-in against a server that caps its
// records at 2048 content bytes, for each modem suite the test
// certificate's key can serve: the handshake is TLS 1.2 in that suite with
// no record-size extension in the hello, the data arrives whole, and the
// largest record the relay sees is exactly what a 2048-byte CBC record
// comes to. A MaxReceivedRecord of that length works; one byte less ends
// the connection with the EMSGSIZE-like error.
func TestModemStandIn(t *testing.T) {
	data := make([]byte, 64<<10)
	rand.Read(data)
	want := sha256.Sum256(data)
	addr := startModemServer(t, 2048, data)
	for _, suite := range ModemCipherSuites() {
		if !strings.Contains(tls.CipherSuiteName(suite), "ECDSA") {
			continue // the test certificate's key is ECDSA
		}
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			wire := cbcRecord(2048, macLen(t, suite))
			for _, limit := range []int{wire, wire - 1} {
				relay := newRelay(t, addr)
				cfg := ModemConfig("localhost")
				cfg.CipherSuites = []uint16{suite}
				cfg.MaxReceivedRecord = limit
				c, err := modemDial(t, relay.Addr(), cfg)
				if err != nil {
					t.Fatalf("limit %d: handshake: %v", limit, err)
				}
				if cs := c.ConnectionState(); cs.Version != tls.VersionTLS12 || cs.CipherSuite != suite {
					t.Fatalf("negotiated %#04x %s", cs.Version, tls.CipherSuiteName(cs.CipherSuite))
				}
				h := sha256.New()
				_, err = io.Copy(h, c)
				largest := maxLen(relay.records(1), nil)
				if largest != wire {
					t.Fatalf("largest server record %d, want %d", largest, wire)
				}
				if limit == wire {
					if err != nil || !bytes.Equal(h.Sum(nil), want[:]) {
						t.Fatalf("limit %d: %v, digest right %v", limit, err, bytes.Equal(h.Sum(nil), want[:]))
					}
					continue
				}
				var de *DeviceLimitError
				if !errors.As(err, &de) || !errors.Is(err, syscall.EMSGSIZE) || !errors.Is(err, ErrDeviceLimit) {
					t.Fatalf("limit %d: error %v, want a *DeviceLimitError matching EMSGSIZE", limit, err)
				}
				if de.Len != wire || de.Limit != limit || de.Type != recordlimit.TypeApplicationData {
					t.Fatalf("%+v, want the %d-byte record against %d", de, wire, limit)
				}
			}
		})
	}
}

// TestModemStandInHello checks what the stand-in's ClientHello offers, as
// the server reads it: TLS 1.2 only, the modem's suites, no
// max_fragment_length or record_size_limit.
func TestModemStandInHello(t *testing.T) {
	got := make(chan *tls.ClientHelloInfo, 1)
	cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		got <- h
		return nil, nil
	}, CipherSuites: ModemCipherSuites()}
	addr := startGoServer(t, cfg, echo)
	if _, err := modemDial(t, addr, ModemConfig("localhost")); err != nil {
		t.Fatal(err)
	}
	h := <-got
	if !slices.Equal(h.SupportedVersions, []uint16{tls.VersionTLS12}) {
		t.Errorf("versions %#04x", h.SupportedVersions)
	}
	if !slices.Equal(h.CipherSuites, ModemCipherSuites()) {
		t.Errorf("suites %#04x, want %#04x", h.CipherSuites, ModemCipherSuites())
	}
	for _, e := range h.Extensions {
		if e == recordlimit.ExtMaxFragmentLength || e == recordlimit.ExtRecordSizeLimit {
			t.Errorf("the hello offers extension %d", e)
		}
	}
}

// TestModemStandInFailsOnBigRecords points the stand-in at servers that
// send 16 KiB records (Go's crypto/tls and OpenSSL, in a modem suite): the
// connection ends with the EMSGSIZE-like error for the first record above
// ModemRecordLimit, which the relay saw, and the server reads no alert,
// only the connection's end.
func TestModemStandInFailsOnBigRecords(t *testing.T) {
	data := make([]byte, 64<<10)
	for _, server := range []string{"crypto/tls", "openssl"} {
		t.Run(server, func(t *testing.T) {
			var addr string
			serverErr := make(chan error, 1)
			switch server {
			case "crypto/tls":
				addr = startGoServer(t, &tls.Config{CipherSuites: ModemCipherSuites()}, func(c *tls.Conn) {
					c.Write(data)
					_, err := io.Copy(io.Discard, c)
					serverErr <- err
				})
			case "openssl":
				bin := peerproc.Require(t, "openssl", "openssl")
				_, cert, key := pemFiles(t)
				addr = peerproc.Start(t, t.TempDir(), bin, "s_server", "-accept", "127.0.0.1:%PORT%",
					"-cert", cert, "-key", key, "-rev", "-quiet", "-tls1_2", "-naccept", "4")
				close(serverErr)
			}
			relay := newRelay(t, addr)
			c, err := modemDial(t, relay.Addr(), ModemConfig("localhost"))
			if err != nil {
				t.Fatal(err)
			}
			if server == "openssl" {
				// -rev answers a line with the line reversed, in one record.
				line := append(bytes.Repeat([]byte("x"), 8000), '\n')
				if _, err := c.Write(line); err != nil {
					t.Fatal(err)
				}
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.Copy(io.Discard, c)
			var de *DeviceLimitError
			if !errors.As(err, &de) || !errors.Is(err, syscall.EMSGSIZE) {
				t.Fatalf("error %v, want a *DeviceLimitError", err)
			}
			first := 0 // the first server record above the modem's limit
			for _, r := range relay.records(1) {
				if r.Len > ModemRecordLimit {
					first = r.Len
					break
				}
			}
			if de.Len != first || de.Limit != ModemRecordLimit {
				t.Fatalf("%+v; the relay's first server record above %d is %d bytes", de, ModemRecordLimit, first)
			}
			if rs := c.RecordState(); rs.LargestReceived != first {
				t.Errorf("RecordState.LargestReceived %d, want the refused %d", rs.LargestReceived, de.Len)
			}
			c.Close()
			if err, ok := <-serverErr; ok && err != nil {
				t.Errorf("the server read %v, want the connection's end without an alert", err)
			}
			for _, r := range relay.records(0) {
				if r.Type == byte(recordlimit.TypeAlert) && !r.AfterCCS {
					t.Errorf("the client sent a plaintext alert")
				}
			}
		})
	}
}

// TestDeviceLimitConfig checks the range checks of DeviceLimit and
// MaxReceivedRecord, and which suites CipherSuites takes.
func TestDeviceLimitConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{DeviceLimit: 64}, true},
		{Config{DeviceLimit: 63}, false},
		{Config{DeviceLimit: 16384}, true},
		{Config{DeviceLimit: 16385}, false},
		{Config{MaxReceivedRecord: 64}, true},
		{Config{MaxReceivedRecord: 63}, false},
		{Config{MaxReceivedRecord: 1 << 20}, true},
		{Config{CipherSuites: ModemCipherSuites()}, true},
		{Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA}}, false},
		{Config{CipherSuites: []uint16{}}, false},
	} {
		_, err := tc.cfg.offer()
		if err == nil {
			_, err = tc.cfg.suites()
		}
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrConfig)) {
			t.Errorf("%s: %v", fmt.Sprintf("%+v", tc.cfg)[:60], err)
		}
	}
}

// TestDeviceLimitOnTheWire checks DeviceLimit against a server capped at
// the device's limit and at one byte more, in both versions: at the limit
// every record fits its bound (content, plus the suite's expansion, plus
// TLS 1.3's content-type byte) and the data arrives whole; one byte more
// and the first larger record, as the relay saw it, ends the connection.
func TestDeviceLimitOnTheWire(t *testing.T) {
	data := make([]byte, 64<<10)
	rand.Read(data)
	want := sha256.Sum256(data)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, serverCap := range []int{2048, 2049} {
			t.Run(fmt.Sprintf("%s/cap %d", versionName(v), serverCap), func(t *testing.T) {
				inner, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				cfg := &tls.Config{Certificates: []tls.Certificate{newTestPKI(t).Server}, MinVersion: v, MaxVersion: v}
				testnet.Serve(t, NewListener(inner, cfg, ServerOptions{MaxRecord: serverCap}), 30*time.Second, func(c net.Conn) {
					c.Write(data)
					c.(*ServerConn).CloseWrite()
					io.Copy(io.Discard, c)
				})
				relay := newRelay(t, inner.Addr().String())
				c := dialTest(t, relay.Addr(), Config{DeviceLimit: 2048, CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
				h := sha256.New()
				_, err = io.Copy(h, c)
				bound := 2048 + expansion12
				if v == tls.VersionTLS13 {
					bound = 2048 + 1 + expansion13
				}
				largest := maxLen(relay.records(1), nil)
				if serverCap == 2048 {
					if err != nil || !bytes.Equal(h.Sum(nil), want[:]) || largest != bound {
						t.Fatalf("%v; largest server record %d, bound %d", err, largest, bound)
					}
					return
				}
				var de *DeviceLimitError
				if !errors.As(err, &de) || de.Limit != bound || de.Len != bound+1 || largest < bound+1 {
					t.Fatalf("error %v (%+v); bound %d, largest seen %d", err, de, bound, largest)
				}
			})
		}
	}
}
