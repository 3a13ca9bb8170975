package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// TestModemThroughEdge: the origin sends 16 KiB records and a 3.6 KB
// chain; through the edge, a device that offers no extension and fails on
// any record above 2303 bytes downloads a 1 MiB image with the right
// SHA-256, with every suite the edge serves it in TLS 1.2 and in TLS 1.3;
// the test's relay sees no server record above the bound of the cap (2048)
// for the suite, handshake records within the cap, and application
// records reaching the bound exactly. The same device pointed at the
// origin directly fails with EMSGSIZE.
func TestModemThroughEdge(t *testing.T) {
	_, pool := testChain(t)
	origin := startOrigin(t)
	image := randomBytes(1 << 20)
	origin.put("/fw/image.bin", &originObject{body: image, etag: `"v1"`})
	edge := startEdge(t, origin, t.TempDir())

	t.Run("direct to the origin", func(t *testing.T) {
		relay := startRelay(t, origin.addr)
		_, _, err := tryGet(modemClient(pool, relay.addr, nil), "GET", "https://127.0.0.1/fw/image.bin")
		var dl *tlsapp.DeviceLimitError
		if !errors.Is(err, syscall.EMSGSIZE) || !errors.As(err, &dl) {
			t.Fatalf("direct download: %v, want the stand-in's EMSGSIZE", err)
		}
		t.Logf("direct to the origin: %v", err)
		seen := relay.seen()
		if len(seen) != 1 || seen[0].largestHandshake <= tlsapp.ModemRecordLimit {
			t.Fatalf("relay saw %+v: want the origin's handshake record above %d", seen, tlsapp.ModemRecordLimit)
		}
	})

	cases := []struct {
		name   string
		cfg    *tls.Config
		suite  uint16
		tls13  bool
		client func(addr string) *http.Client
	}{
		{name: "the stand-in as it is (its CBC suites)"},
		{name: "TLS 1.2 ECDHE-RSA-AES128-CBC-SHA", suite: tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		{name: "TLS 1.2 ECDHE-RSA-AES256-CBC-SHA", suite: tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA},
		{name: "TLS 1.2 ECDHE-RSA-AES128-CBC-SHA256", suite: tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256},
		{name: "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256", suite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{name: "TLS 1.2 ECDHE-RSA-AES256-GCM-SHA384", suite: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
		{name: "TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305", suite: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
		{name: "TLS 1.3", tls13: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			relay := startRelay(t, edge.addr)
			var conn *tlsapp.Conn
			var suites []uint16
			if tc.suite != 0 {
				suites = []uint16{tc.suite}
			}
			c := modemClient(pool, relay.addr, suites, func(c *tlsapp.Conn) { conn = c })
			if tc.tls13 {
				// The stand-in with TLS 1.3 allowed: a device on newer firmware.
				cfg := tlsapp.ModemConfig("127.0.0.1")
				cfg.RootCAs, cfg.MaxVersion, cfg.CipherSuites = pool, tls.VersionTLS13, nil
				tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: cfg}, func(c *tlsapp.Conn) { conn = c })
				dial := tr.DialTLSContext
				tr.DialTLSContext = func(ctx context.Context, n, _ string) (net.Conn, error) { return dial(ctx, n, relay.addr) }
				c = &http.Client{Transport: tr}
			}
			resp, body := get(t, c, "https://127.0.0.1/fw/image.bin")
			if resp.StatusCode != http.StatusOK || sum(body) != sum(image) {
				t.Fatalf("status %d, %d bytes, SHA-256 match %v", resp.StatusCode, len(body), sum(body) == sum(image))
			}
			state := conn.ConnectionState()
			if tc.suite == 0 && !tc.tls13 && !slices.Contains(tlsapp.ModemCipherSuites(), state.CipherSuite) {
				t.Fatalf("suite %s is not one of the modem's", tls.CipherSuiteName(state.CipherSuite))
			}
			if tc.suite != 0 && state.CipherSuite != tc.suite {
				t.Fatalf("suite %s, want %s", tls.CipherSuiteName(state.CipherSuite), tls.CipherSuiteName(tc.suite))
			}
			bound := recordBound(state.Version, state.CipherSuite, DefaultMaxRecord)
			seen := relay.seen()
			if len(seen) != 1 {
				t.Fatalf("relay saw %d connections", len(seen))
			}
			s := seen[0]
			t.Logf("%s %s: %d records, largest %d (bound %d), largest handshake %d",
				tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite), s.records, s.largest, bound, s.largestHandshake)
			if s.largest != bound {
				t.Errorf("largest server record %d, want exactly the bound %d (no more; and full records reach it)", s.largest, bound)
			}
			if s.largestHandshake > DefaultMaxRecord {
				t.Errorf("largest handshake record %d, above the cap %d", s.largestHandshake, DefaultMaxRecord)
			}
			if s.largest > tlsapp.ModemRecordLimit {
				t.Errorf("a record of %d bytes would fail the modem", s.largest)
			}
		})
	}
}

// TestOpenSSLThroughEdge: openssl s_client -tls1_2 (no record-size
// extension), CBC and GCM, downloads the 1 MiB image through the edge with
// the right SHA-256; the relay sees no server record above the bound, and
// handshake records within the cap.
func TestOpenSSLThroughEdge(t *testing.T) {
	openssl := peerproc.Require(t, "openssl", "openssl")
	origin := startOrigin(t)
	image := randomBytes(1 << 20)
	origin.put("/fw/image.bin", &originObject{body: image, etag: `"v1"`})
	edge := startEdge(t, origin, t.TempDir())
	for _, tc := range []struct {
		cipher string
		suite  uint16
	}{
		{"ECDHE-RSA-AES128-SHA", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		{"ECDHE-RSA-AES128-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256},
		{"ECDHE-RSA-AES128-GCM-SHA256", tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	} {
		t.Run(tc.cipher, func(t *testing.T) {
			relay := startRelay(t, edge.addr)
			cmd := exec.Command(openssl, "s_client", "-connect", relay.addr, "-tls1_2", "-cipher", tc.cipher,
				"-CAfile", filepath.Join(pkiDir, "root.pem"), "-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet")
			cmd.Stdin = strings.NewReader("GET /fw/image.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan struct{})
			time.AfterFunc(time.Minute, func() {
				select {
				case <-done:
				default:
					cmd.Process.Kill()
				}
			})
			out, err := cmd.Output()
			close(done)
			if err != nil {
				t.Fatalf("openssl s_client: %v\n%s", err, stderr.String())
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 || sum(body) != sum(image) {
				t.Fatalf("status %d, %d bytes (%v), SHA-256 match %v", resp.StatusCode, len(body), err, sum(body) == sum(image))
			}
			bound := recordBound(tls.VersionTLS12, tc.suite, DefaultMaxRecord)
			seen := relay.seen()
			if len(seen) != 1 {
				t.Fatalf("relay saw %d connections", len(seen))
			}
			s := seen[0]
			t.Logf("%s: %d records, largest %d (bound %d), largest handshake %d", tc.cipher, s.records, s.largest, bound, s.largestHandshake)
			if s.largest != bound || s.largestHandshake > DefaultMaxRecord {
				t.Fatalf("largest record %d (want %d), largest handshake %d (want at most %d)", s.largest, bound, s.largestHandshake, DefaultMaxRecord)
			}
			if !strings.Contains(stderr.String(), "verify return:1") {
				t.Logf("openssl stderr:\n%s", stderr.String())
			}
		})
	}
}
