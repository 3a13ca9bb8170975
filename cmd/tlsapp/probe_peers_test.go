package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/golden"
	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/probe"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// peerFiles writes a throw-away CA, and a server certificate and key for
// 127.0.0.1 that it issued, as PEM files.
func peerFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(ta.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ta.Server.Certificate[0]}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	return ca, cert, key
}

// probeJSON runs probe --json with args and decodes its report.
func probeJSON(t *testing.T, args ...string) (probeReport, result) {
	t.Helper()
	r := runBin(t, append([]string{"probe", "--json"}, args...)...)
	var rep probeReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("probe exited %d: %v\n%s", r.code, err, r.stderr)
	}
	return rep, r
}

// TestProbePeers runs probe against real servers and checks that it reports
// what each was measured to do: OpenSSL honours max_fragment_length and
// ignores record_size_limit; GnuTLS honours record_size_limit in both
// versions and max_fragment_length in TLS 1.3, and in TLS 1.2 echoes
// max_fragment_length and then sends larger records.
func TestProbePeers(t *testing.T) {
	type want map[string]string // "version extension" -> result
	tests := []struct {
		name   string
		bin    string
		pkg    string
		args   func(cert, key string) []string
		expect want
	}{
		{"openssl", "openssl", "openssl", func(cert, key string) []string {
			return []string{"s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-WWW", "-quiet"}
		}, want{"TLS 1.2 max_fragment_length": "agreed", "TLS 1.3 max_fragment_length": "agreed",
			"TLS 1.2 record_size_limit": "ignored", "TLS 1.3 record_size_limit": "ignored"}},
		{"gnutls", "gnutls-serv", "gnutls-bin", func(cert, key string) []string {
			return []string{"--http", "-p", "%PORT%", "--x509certfile", cert, "--x509keyfile", key, "--priority", "NORMAL:%ALLOW_SMALL_RECORDS"}
		}, want{"TLS 1.3 max_fragment_length": "agreed", "TLS 1.2 record_size_limit": "agreed", "TLS 1.3 record_size_limit": "agreed",
			// Its HTTP page (~1 KB) goes out in one record despite the echo.
			"TLS 1.2 max_fragment_length 512": "violated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := peerproc.Require(t, tt.bin, tt.pkg)
			ca, cert, key := peerFiles(t)
			addr := peerproc.Start(t, t.TempDir(), bin, tt.args(cert, key)...)
			rep, _ := probeJSON(t, "--ca", ca, "--read-time", "1s", addr)
			if len(rep.Cases) != 16 {
				t.Fatalf("%d cases", len(rep.Cases))
			}
			for _, c := range rep.Cases {
				key := c.Version + " " + c.Extension
				w, ok := tt.expect[key]
				if exact, found := tt.expect[fmt.Sprintf("%s %d", key, c.Limit)]; found {
					w, ok = exact, true
				}
				if ok && c.Result != w {
					t.Errorf("%s %d: %s (%s), want %s", key, c.Limit, c.Result, c.Error, w)
				}
				if c.Result == "agreed" && c.LargestReceived > c.Bound {
					t.Errorf("%s %d: agreed but largest record %d above %d", key, c.Limit, c.LargestReceived, c.Bound)
				}
			}
			if len(rep.Anchors) != 1 || !rep.Anchors[0].Verifies {
				t.Errorf("anchors %+v", rep.Anchors)
			}
			if rep.Verdict.Kind != probe.WorksAgreed {
				t.Errorf("verdict %+v: a 2048-byte device works with %s", rep.Verdict, tt.name)
			}
		})
	}
}

func TestProbeGoServer(t *testing.T) {
	addr, ca := goServer(t, 0)
	rep, r := probeJSON(t, "--ca", ca, "--read-time", "1s", addr)
	if r.code != exitProbeFails {
		t.Errorf("probe exited %d, want %d (the device will not work)", r.code, exitProbeFails)
	}
	if len(rep.Cases) != 16 {
		t.Fatalf("%d cases, want 16", len(rep.Cases))
	}
	for _, c := range rep.Cases {
		if c.Result != "ignored" {
			t.Errorf("%s %s %d: %s (%s), want ignored", c.Version, c.Extension, c.Limit, c.Result, c.Error)
		}
		if c.LargestReceived <= c.Bound {
			t.Errorf("%s %s %d: largest %d within bound %d: the Go server's 16 KiB records were not seen",
				c.Version, c.Extension, c.Limit, c.LargestReceived, c.Bound)
		}
	}
	if rep.Verdict.Kind != probe.Fails || !strings.Contains(rep.Verdict.Summary, "answers neither extension") {
		t.Errorf("verdict %+v", rep.Verdict)
	}
	if len(rep.Anchors) != 1 || !rep.Anchors[0].Verifies {
		t.Errorf("anchors %+v", rep.Anchors)
	}
	if len(rep.Chain) != 2 || rep.ChainBytes == 0 {
		t.Errorf("chain %+v", rep.Chain)
	}
	for _, v := range rep.Versions {
		if v.Result != "ok" || v.Resumption == nil || !v.Resumption.Resumed {
			t.Errorf("%s: %+v %+v", v.Version, v, v.Resumption)
		}
	}
	if rep.CertCompression == nil || rep.CertCompression.Algorithm != "none" {
		t.Errorf("compression: %+v", rep.CertCompression)
	}
	// The human report says the same.
	h := runBin(t, "probe", "--ca", ca, "--read-time", "1s", addr)
	if !strings.Contains(h.stdout, "ignored") || !strings.Contains(h.stdout, "fails: the server answers neither extension") {
		t.Errorf("human report")
	}
}

func TestProbeVerification(t *testing.T) {
	addr, _ := goServer(t, tls.VersionTLS12)
	r := runBin(t, "probe", "--read-time", "1s", addr)
	if r.code != exitCertificate || !strings.Contains(r.stdout, "--insecure") {
		t.Errorf("unverifiable server: status %d", r.code)
	}
	r = runBin(t, "probe", "--insecure", "--read-time", "1s", addr)
	if r.code != exitProbeFails || !strings.Contains(r.stderr, "VERIFICATION IS OFF") || !strings.Contains(r.stdout, "VERIFICATION WAS OFF") {
		t.Errorf("--insecure: status %d", r.code)
	}
	if !strings.Contains(r.stdout, "TLS 1.3  no") || !strings.Contains(r.stdout, "skipped") {
		t.Errorf("a TLS 1.2-only server is not reported as such")
	}
}

// TestProbeCompressingServer checks that probe reports the algorithm a TLS
// 1.3 server compressed its chain with, read from the handshake (the
// scripted server: no server on this machine compresses).
func TestProbeCompressingServer(t *testing.T) {
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	chain := [][]byte{ta.Server.Certificate[0], ta.CA.Raw}
	addr := scripted.ServeEach(t, scripted.CertServer(chain, ta.Server.PrivateKey.(crypto.Signer), scripted.Zstd, nil))
	rep, _ := probeJSON(t, "--ca", ca, "--read-time", "200ms", addr)
	cc := rep.CertCompression
	if cc == nil || cc.Algorithm != "zstd" || cc.HandshakeBytesReceived >= cc.HandshakeBytesUncompressed {
		t.Errorf("compression: %+v", cc)
	}
}

// serveFile starts tlsapp serve over a directory holding fw.bin, size bytes
// of random-looking data, and returns the address, the CA file and the data.
func serveFile(t *testing.T, size int, args ...string) (addr, ca string, data []byte) {
	t.Helper()
	dir := t.TempDir()
	data = make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	base, ca := startServe(t, dir, args...)
	return strings.TrimSuffix(strings.TrimPrefix(base, "https://"), "/"), ca, data
}

// TestProbeServeCapped is the check of issue 10: against tlsapp serve
// --max-record 2048, which caps its records without answering either
// extension, the verdict for a 2048-byte device is "works (capped without
// answering)" (it was "will not work": TLS 1.2's 2072-byte records were
// compared with the TLS 1.3 bound), seen through an independent relay that
// parses every server record. The target is given as an https URL.
func TestProbeServeCapped(t *testing.T) {
	addr, ca, _ := serveFile(t, 1<<20, "--max-record", "2048")
	rl := startRelay(t, addr)
	rep, r := probeJSON(t, "--ca", ca, "--device-limit", "2048", "https://"+rl.addr()+"/fw.bin")
	if r.code != 0 || rep.Verdict.Kind != probe.WorksCapped || !rep.Verdict.Works {
		t.Fatalf("exit %d, verdict %+v", r.code, rep.Verdict)
	}
	if rep.Path != "/fw.bin" {
		t.Errorf("path %q", rep.Path)
	}
	_, largest, _, _ := rl.stats()
	seen := 0
	for _, v := range rep.Versions {
		b := recordBound(v.VersionCode, v.SuiteCode, 2048)
		if v.LargestReceived > b {
			t.Errorf("%s: largest %d above %d", v.Version, v.LargestReceived, b)
		}
		seen = max(seen, v.LargestReceived)
	}
	for _, c := range rep.Cases {
		seen = max(seen, c.LargestReceived)
	}
	if seen != largest {
		t.Errorf("largest record: probe %d, relay %d", seen, largest)
	}
	if largest != 2072 {
		t.Errorf("relay's largest server record %d, want 2072 (TLS 1.2 AES-GCM, 2048 B of content)", largest)
	}
	// The human report gives the same verdict.
	h := runBin(t, "probe", "--ca", ca, "https://"+addr+"/fw.bin")
	if h.code != 0 || !strings.Contains(h.stdout, "works (capped without answering)") {
		t.Errorf("human report: exit %d", h.code)
	}
}

// TestRangeChunkFits is the range-sizing check of issue 10: the chunk
// probe.MeasureRange chooses for a 2048-byte device, used for every Range
// request of a whole download from tlsapp serve --max-record 16384 (records
// as large as the answer), keeps every server record the independent relay
// sees within 2048 + the suite's expansion; the naive 2048-byte chunk does
// not.
func TestRangeChunkFits(t *testing.T) {
	const limit = 2048
	addr, caFile, data := serveFile(t, 300<<10, "--max-record", "16384")
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			cfg := &tlsapp.Config{RootCAs: pool, MinVersion: v, MaxVersion: v}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := probe.MeasureRange(ctx, probe.Options{Addr: addr, Path: "/fw.bin", DeviceLimit: limit, Config: *cfg})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if res.Chunk >= limit || res.Chunk < limit-400 || res.Size != int64(len(data)) {
				t.Fatalf("chunk %d for a %d B header", res.Chunk, res.HeaderBytes)
			}
			bound := res.Bound
			if want := limit + recordlimit13(v) + expansionFor(v, res.Suite); bound != want {
				t.Errorf("bound %d, want %d", bound, want)
			}
			for _, tc := range []struct {
				chunk int
				fits  bool
			}{{res.Chunk, true}, {limit, false}} {
				rl := startRelay(t, addr)
				got := rangeDownload(t, ctx, "https://"+rl.addr()+"/fw.bin", cfg, tc.chunk, len(data))
				if sha256.Sum256(got) != sha256.Sum256(data) {
					t.Fatalf("chunk %d: the download differs", tc.chunk)
				}
				conns, largest, records, _ := rl.stats()
				t.Logf("chunk %d: %d connections, %d server records, largest %d (bound %d)", tc.chunk, conns, records, largest, bound)
				if (largest <= bound) != tc.fits {
					t.Errorf("chunk %d: the relay saw a %d B server record, bound %d: fits %v, want %v", tc.chunk, largest, bound, largest <= bound, tc.fits)
				}
			}
		})
	}
}

func recordlimit13(v uint16) int {
	if v == tls.VersionTLS13 {
		return 1
	}
	return 0
}

func expansionFor(v uint16, suite string) int {
	for _, s := range tls.CipherSuites() {
		if s.Name == suite {
			return expansion(v, s.ID)
		}
	}
	return -1
}

// rangeDownload fetches size bytes in Range requests of chunk bytes over
// one keep-alive connection through net/http and tlsapp.
func rangeDownload(t *testing.T, ctx context.Context, url string, cfg *tlsapp.Config, chunk, size int) []byte {
	t.Helper()
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c := *cfg
		c.ServerName = "127.0.0.1"
		return tlsapp.Dial(ctx, network, addr, &c)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var out bytes.Buffer
	for off := 0; off < size; off += chunk {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, min(size, off+chunk)-1))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("status %s", resp.Status)
		}
		io.Copy(&out, resp.Body)
		resp.Body.Close()
	}
	return out.Bytes()
}

// TestProbeFailureOutput checks what probe says when the handshake fails:
// the cause (an expired leaf, a chain no anchor issued), the exit status 1,
// and none of the sections that need a connection.
func TestProbeFailureOutput(t *testing.T) {
	now := time.Now()
	ca := testpki.Issue(t, "probe CLI CA", true, now.Add(-48*time.Hour), now.Add(48*time.Hour), nil)
	other := testpki.Issue(t, "another CA", true, now.Add(-48*time.Hour), now.Add(48*time.Hour), nil)
	expired := testpki.Issue(t, "127.0.0.1", false, now.Add(-47*time.Hour), now.Add(-time.Hour), ca, "127.0.0.1")
	valid := testpki.Issue(t, "127.0.0.1", false, now.Add(-47*time.Hour), now.Add(time.Hour), ca, "127.0.0.1")
	dir := t.TempDir()
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	os.WriteFile(otherFile, other.PEM, 0o644)
	for _, tc := range []struct {
		name   string
		leaf   *testpki.Cert
		ca     string
		kind   probe.FailureKind
		phrase string
	}{
		{"expired leaf", expired, caFile, probe.FailExpired, "the server's own certificate (CN=127.0.0.1) has expired"},
		{"unknown CA", valid, otherFile, probe.FailUnknownAuthority, "no trust anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tc.leaf.TLS()}})
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: quietLog()}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			url := "https://" + ln.Addr().String() + "/fw.bin"
			rep, r := probeJSON(t, "--ca", tc.ca, url)
			if r.code != exitCertificate || rep.Failure == nil || rep.Failure.Kind != tc.kind || !rep.Failure.Leaf {
				t.Errorf("exit %d, failure %+v, want %s", r.code, rep.Failure, tc.kind)
			}
			if len(rep.Cases) != 0 || len(rep.Chain) != 0 || rep.Range != nil || len(rep.Anchors) != 0 {
				t.Errorf("sections after a failed handshake: %d cases, chain %v, range %v, anchors %v", len(rep.Cases), rep.Chain, rep.Range, rep.Anchors)
			}
			h := runBin(t, "probe", "--ca", tc.ca, url)
			if h.code != exitCertificate || !strings.Contains(h.stdout, tc.phrase) {
				t.Errorf("human report (exit %d) does not say %q", h.code, tc.phrase)
			}
			for _, section := range []string{"Certificate chain", "Trust anchors", "Record-size extensions", "Range chunk", "Certificate compression"} {
				if strings.Contains(h.stdout, section) {
					t.Errorf("section %q after a failed handshake", section)
				}
			}
		})
	}
}

// TestProbeOutputGolden checks the printing of probe's two outputs for fixed
// reports against golden files (-update rewrites them): one from a
// capped server, one from a failed handshake.
func TestProbeOutputGolden(t *testing.T) {
	expiry := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	conn := func(v, suite uint16, ext string, limit int, result string, largest int) probe.Connection {
		c := probe.Connection{Version: versionName(v), VersionCode: v, Suite: tls.CipherSuiteName(suite), SuiteCode: suite,
			Extension: ext, Limit: limit, Result: result, LargestReceived: largest, ResponseBytes: 256 << 10,
			HeaderBytes: 208, BodyBytes: 256<<10 - 208, Status: 200,
			Largest: probe.Largest{Sent: map[string]int{"handshake": 283}, Received: map[string]int{"handshake": 122, "application_data": largest}}}
		if ext != "" {
			c.Bound = recordBound(v, suite, limit)
		}
		return c
	}
	v12 := conn(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "", 0, "ok", 2072)
	v12.FirstResponse = []int{2072, 2072, 232}
	v13 := conn(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, "", 0, "ok", 2065)
	v13.Resumption = &probe.Resumption{Resumed: true, HandshakeBytesSent: 400, HandshakeBytesReceived: 300}
	v13.VerifiedBy = []string{"CN=test CA"}
	capped := &probe.Report{Target: "127.0.0.1:8443", ServerName: "127.0.0.1", Path: "/fw.bin",
		Versions:   []probe.Connection{v12, v13},
		Chain:      []probe.Cert{{Subject: "CN=127.0.0.1", Issuer: "CN=test CA", Bytes: 420, Key: "ECDSA P-256", NotAfter: expiry}},
		ChainBytes: 420, CertCompression: &probe.Compression{Algorithm: "none", HandshakeBytesReceived: 770},
		Cases: []probe.Connection{
			conn(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "record_size_limit", 2048, "ignored", 2072),
			conn(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, "max_fragment_length", 1024, "ignored", 1041),
		}}
	capped.Range = &probe.RangeResult{Chunk: 1816, DeviceLimit: 2048, Bound: 2072, Version: "TLS 1.2", Suite: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		Size: 1 << 20, Observed: 166368, Requests: 93, Connections: 1, HeaderBytes: 232, LargestRecord: 2072,
		Steps: []probe.RangeStep{{Offset: 0, Chunk: 512, Requests: 1, Largest: 768, HeaderBytes: 229, Fits: true},
			{Offset: 512, Chunk: 1816, Requests: 91, Largest: 2070, HeaderBytes: 230, Fits: true},
			{Offset: 1046760, Chunk: 1816, Requests: 1, Largest: 2072, HeaderBytes: 232, Fits: true, Note: "the last chunk"}}}
	// A Go server: 16 KiB records, a Range chunk that needed a second
	// connection, and the remedies.
	g13 := conn(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, "", 0, "ok", 16401)
	g13.LargestProtected, g13.LargestPlaintext = 16401, 122
	uncapped := &probe.Report{Target: "127.0.0.1:8443", ServerName: "127.0.0.1", Path: "/fw.bin",
		Versions: []probe.Connection{g13},
		Cases: []probe.Connection{
			conn(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, "record_size_limit", 2048, "ignored", 16401),
		},
		Range: &probe.RangeResult{Chunk: 1752, DeviceLimit: 2048, Bound: 2065, Version: "TLS 1.3", Suite: "TLS_AES_128_GCM_SHA256",
			Size: 1 << 20, Observed: 168192, Requests: 99, Connections: 2, HeaderBytes: 296, LargestRecord: 2097,
			Steps: []probe.RangeStep{{Offset: 0, Chunk: 512, Requests: 1, Largest: 780, HeaderBytes: 250, Fits: true},
				{Offset: 512, Chunk: 1784, Requests: 60, Largest: 2065, HeaderBytes: 290, Fits: true},
				{Offset: 107552, Chunk: 1784, Requests: 1, Largest: 2097, Note: "a 2097 B application_data record, above the 2065 B the device holds"},
				{Offset: 107552, Chunk: 1752, Requests: 36, Largest: 2065, HeaderBytes: 296, Fits: true},
				{Offset: 1046824, Chunk: 1752, Requests: 1, Largest: 2065, HeaderBytes: 296, Fits: true, Note: "the last chunk"}}}}
	failure := &probe.Failure{Kind: probe.FailExpired, Certificate: "CN=127.0.0.1", Leaf: true, NotAfter: &expiry,
		Message: "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"}
	failed := &probe.Report{Target: "127.0.0.1:8443", ServerName: "127.0.0.1", Path: "/",
		Versions: []probe.Connection{{Version: "TLS 1.2", VersionCode: tls.VersionTLS12, Result: "failed", Failure: failure},
			{Version: "TLS 1.3", VersionCode: tls.VersionTLS13, Result: "failed", Failure: failure}},
		Failure: failure}
	for _, tc := range []struct {
		name string
		r    *probeReport
	}{
		{"capped", &probeReport{Report: capped, DeviceLimit: 2048,
			Anchors: []anchorCheck{{Source: "ca.pem", Subject: "CN=test CA", Verifies: true}}}},
		{"uncapped", &probeReport{Report: uncapped, DeviceLimit: 2048}},
		{"failed", &probeReport{Report: failed, DeviceLimit: 2048}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Verdict = tc.r.Report.Verdict(tc.r.DeviceLimit)
			var js, human bytes.Buffer
			(&env{}).emitJSONTo(&js, tc.r)
			printProbe(&human, tc.r)
			golden.Check(t, filepath.Join("testdata", "probe", tc.name+".json"), js.Bytes(), *update)
			golden.Check(t, filepath.Join("testdata", "probe", tc.name+".txt"), human.Bytes(), *update)
			// The JSON reads back into the same report.
			var back probeReport
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Verdict.Kind != tc.r.Verdict.Kind || len(back.Versions) != len(tc.r.Versions) {
				t.Errorf("round trip: %v %+v", err, back.Verdict)
			}
		})
	}
}

// TestProbeJSONKeys checks the shape of a real probe --json run against
// tlsapp serve: its set of keys (values vary with the run) is the golden one.
func TestProbeJSONKeys(t *testing.T) {
	addr, ca, _ := serveFile(t, 1<<20, "--max-record", "2048")
	r := runBin(t, "probe", "--json", "--ca", ca, "https://"+addr+"/fw.bin")
	var doc any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if prefix == ".versions[].largest_record.sent" || prefix == ".versions[].largest_record.received" ||
					prefix == ".cases[].largest_record.sent" || prefix == ".cases[].largest_record.received" {
					k = "TYPE" // which content types appear is the wire's business
				}
				keys[prefix+"."+k] = true
				walk(prefix+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(prefix+"[]", x)
			}
		}
	}
	walk("", doc)
	var list []string
	for k := range keys {
		list = append(list, k)
	}
	sort.Strings(list)
	golden.Check(t, filepath.Join("testdata", "probe", "keys.txt"), []byte(strings.Join(list, "\n")+"\n"), *update)
}

// TestProbeTraceAndKeylog runs probe --trace --keylog against a Go server
// that logs its own secrets: every key log line the client wrote is one the
// server wrote (the same client random and secret, so Wireshark can use
// it). The trace, decoded from the wire, names each connection, times each
// record, names the handshake messages (the encrypted ones too, with the
// logged keys), and its largest received record is the one the
// independent relay saw; with --trace-format json every line is a JSON
// object saying the same.
func TestProbeTraceAndKeylog(t *testing.T) {
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	var serverKeys syncBuf
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ta.Server}, KeyLogWriter: &serverKeys})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 5000)) }), ErrorLog: quietLog()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rl := startRelay(t, ln.Addr().String())
	keylog := filepath.Join(dir, "keys.log")
	r := runBin(t, "probe", "--ca", ca, "--trace", "--keylog", keylog, "--read-time", "500ms", rl.addr())
	if r.code != exitProbeFails {
		t.Errorf("exit %d, want %d", r.code, exitProbeFails)
	}
	st, err := os.Stat(keylog)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key log: %v %v", st, err)
	}
	b, _ := os.ReadFile(keylog)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	labels := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || len(f[1]) != 64 {
			t.Fatalf("key log line %q", l)
		}
		labels[f[0]]++
		if !strings.Contains(serverKeys.String(), l+"\n") {
			t.Errorf("client key log line not in the server's: %s", l)
		}
	}
	for _, l := range []string{"CLIENT_RANDOM", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		if labels[l] == 0 {
			t.Errorf("no %s line (labels %v)", l, labels)
		}
	}
	record := regexp.MustCompile(`^trace \[([^\]]+)\] +(\d+\.\d{3}) ms  (sent|received) +(plaintext|handshake|application|protected) +(handshake|change_cipher_spec|alert|application_data) +(\d+) B(.*)$`)
	largest, n := 0, 0
	conns := map[string]bool{}
	seen := map[string]bool{}
	for _, l := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(l, "trace ") {
			continue
		}
		m := record.FindStringSubmatch(l)
		if m == nil {
			continue // a connect, close or detail line
		}
		n++
		conns[m[1]] = true
		if m[3] == "received" {
			size, _ := strconv.Atoi(m[6])
			largest = max(largest, size)
		}
		for _, w := range []string{"ClientHello", "ServerHello", "EncryptedExtensions", "Certificate ", "CertificateVerify", "Finished", "NewSessionTicket", "alert warning close_notify", "[application_data"} {
			if strings.Contains(m[7], w) {
				seen[m[3]+" "+w] = true
			}
		}
	}
	_, relayLargest, relayRecords, _ := rl.stats()
	if n == 0 || largest != relayLargest {
		t.Errorf("%d trace lines, largest received %d; relay: %d records, largest %d", n, largest, relayRecords, relayLargest)
	}
	for _, c := range []string{"TLS 1.2 plain", "TLS 1.3 plain", "TLS 1.3 resumption", "TLS 1.3 max_fragment_length 512", "TLS 1.2 record_size_limit 4096", "range"} {
		if !conns[c] {
			t.Errorf("no trace of connection %q (have %v)", c, conns)
		}
	}
	for _, w := range []string{"sent ClientHello", "received ServerHello", "received EncryptedExtensions", "received Certificate ", "received CertificateVerify",
		"received Finished", "sent Finished", "received NewSessionTicket", "sent alert warning close_notify", "received [application_data"} {
		if !seen[w] {
			t.Errorf("the trace has no %s", w)
		}
	}
	for _, w := range []string{"connected to " + rl.addr(), "ext max_fragment_length (1 B): code 1 = 2^9 = 512 B", "ext record_size_limit (2 B): 4096", "ext supported_versions"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the trace does not say %q", w)
		}
	}

	// JSON lines.
	j := runBin(t, "probe", "--ca", ca, "--trace", "--trace-format", "json", "--read-time", "500ms", rl.addr())
	events, records := 0, 0
	for _, l := range strings.Split(j.stderr, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var ev struct {
			Conn     string  `json:"conn"`
			Event    string  `json:"event"`
			MS       float64 `json:"ms"`
			Dir      string  `json:"dir"`
			Len      int     `json:"len"`
			Messages []struct {
				Name       string `json:"name"`
				Extensions []struct {
					Name   string `json:"name"`
					Number int    `json:"number"`
				} `json:"extensions"`
			} `json:"messages"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("trace line %q: %v", l, err)
		}
		events++
		if ev.Conn == "" || ev.Event == "" {
			t.Errorf("line %q has no connection or event", l)
		}
		if ev.Event == "record" {
			records++
		}
	}
	if events == 0 || records == 0 || strings.Contains(j.stderr, "trace [") {
		t.Errorf("%d JSON events, %d records; text lines mixed in: %v", events, records, strings.Contains(j.stderr, "trace ["))
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGetRangeChunkAuto is the check of issue 18 (and 10) for get: against
// a Go crypto/tls server (records sized by each write, growing as the
// connection ages) and tlsapp serve --max-record 16384 (records as large
// as each answer), get --range-chunk auto --device-limit 2048 downloads a
// 1 MiB object in Range requests on one kept-alive connection, after a
// measurement on one connection of its own, and the independent relay sees
// no server record above 2048 + the suite's expansion on either: the
// measuring connection fits the device too. The file arrives whole.
// (Before, the measurement used a fresh connection per chunk, saw records
// of 1203 B, and the download then received 2310 B records and said done.)
func TestGetRangeChunkAuto(t *testing.T) {
	const limit = 2048
	body, sum := randomBody(1 << 20)
	serveDir := t.TempDir()
	os.WriteFile(filepath.Join(serveDir, "fw.bin"), body, 0o644)
	serveBase, serveCA := startServe(t, serveDir, "--max-record", "16384")
	goBase, goCA := httpsServer(t, &image{body: body, etag: `"v1"`})
	for _, srv := range []struct{ name, base, ca string }{
		{"Go crypto-tls", goBase, goCA},
		{"tlsapp serve 16384", serveBase, serveCA},
	} {
		for _, v := range []string{"1.2", "1.3"} {
			t.Run(srv.name+" "+v, func(t *testing.T) {
				rl := startRelay(t, urlHost(srv.base))
				out := filepath.Join(t.TempDir(), "fw.bin")
				r := runBin(t, "get", "--json", "--tls", v, "--ca", srv.ca, "--range-chunk", "auto", "--device-limit", "2048",
					"--sha256", sum, "-o", out, "https://"+rl.addr()+"/fw.bin")
				if r.code != 0 {
					t.Fatalf("exit %d", r.code)
				}
				var rep struct {
					OK          bool               `json:"ok"`
					RangeSizing *probe.RangeResult `json:"range_sizing"`
					RangeChunk  int                `json:"range_chunk"`
					Requests    int                `json:"requests"`
					Connections []recordReport     `json:"connections"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Fatal(err)
				}
				if fileSHA(t, out) != sum {
					t.Fatal("the file differs from the server's")
				}
				rs := rep.RangeSizing
				if rs == nil || rs.Chunk <= 0 || rs.Chunk >= limit || rs.Connections != 1 || rs.Observed < probe.EvidenceBytes {
					t.Fatalf("range sizing %+v", rs)
				}
				bound := limit + recordlimit13(versionOf(v)) + expansionFor(versionOf(v), rs.Suite)
				if rs.Bound != bound {
					t.Errorf("bound %d, want %d", rs.Bound, bound)
				}
				if want := (len(body) + rs.Chunk - 1) / rs.Chunk; rep.Requests != want || rep.RangeChunk != rs.Chunk {
					t.Errorf("%d requests of %d for %d chunks of %d", rep.Requests, rep.RangeChunk, want, rs.Chunk)
				}
				// One connection measures, one downloads.
				per := rl.largestPerConn()
				if len(per) != 2 || len(rep.Connections) != 1 {
					t.Fatalf("the relay saw %d connections (largest server record each %v), the report %d for the download; want 1 + 1",
						len(per), per, len(rep.Connections))
				}
				for i, n := range per {
					if n > bound {
						t.Errorf("connection %d (%s): the relay saw a %d B server record, above %d", i, map[int]string{0: "the measurement", 1: "the download"}[i], n, bound)
					}
				}
				t.Logf("chunk %d: largest server record per connection %v, bound %d", rs.Chunk, per, bound)
			})
		}
	}
}

func versionOf(s string) uint16 {
	if s == "1.2" {
		return tls.VersionTLS12
	}
	return tls.VersionTLS13
}
