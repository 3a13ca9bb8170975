package main

import (
	"bufio"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/scripted"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/probe"
)

// agingServer serves body over TLS 1.2 with Range support and keep-alive,
// like a stack whose records grow as a connection ages: on each connection
// its first after bytes go out in records of at most 1024 bytes, and then
// each answer's header and body in one write (records up to 16 KiB).
func agingServer(t *testing.T, body []byte, after int) (base, ca string) {
	t.Helper()
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, time.Minute, func(raw net.Conn) {
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{ta.Server}, MaxVersion: tls.VersionTLS12, DynamicRecordSizingDisabled: true})
		defer c.Close()
		br := bufio.NewReader(c)
		sent := 0
		for {
			first, last, ranged := 0, len(body)-1, false
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				line = strings.TrimSpace(line)
				if line == "" {
					break
				}
				if v, ok := strings.CutPrefix(line, "Range: bytes="); ok {
					a, b, _ := strings.Cut(v, "-")
					first, _ = strconv.Atoi(a)
					if b != "" {
						last, _ = strconv.Atoi(b)
					}
					last, ranged = min(last, len(body)-1), true
				}
			}
			hdr := "HTTP/1.1 200 OK\r\n"
			if ranged {
				hdr = fmt.Sprintf("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %d-%d/%d\r\n", first, last, len(body))
			}
			resp := append([]byte(hdr+fmt.Sprintf("ETag: \"aging\"\r\nContent-Length: %d\r\n\r\n", last-first+1)), body[first:last+1]...)
			for len(resp) > 0 {
				n := len(resp)
				if sent < after {
					n = min(n, 1024)
				}
				if _, err := c.Write(resp[:n]); err != nil {
					return
				}
				sent += n
				resp = resp[n:]
			}
		}
	})
	return "https://" + ln.Addr().String(), ca
}

// getJSON is get's --json report, the fields these tests read.
type getJSON struct {
	OK          bool               `json:"ok"`
	ExitStatus  int                `json:"exit_status"`
	Error       string             `json:"error"`
	Cause       string             `json:"cause"`
	RangeSizing *probe.RangeResult `json:"range_sizing"`
	RangeChunk  int                `json:"range_chunk"`
	Events      []getEvent         `json:"events"`
	Largest     largestReport      `json:"largest_record"`
	Connections []recordReport     `json:"connections"`
}

func decodeGet(t *testing.T, r result) getJSON {
	t.Helper()
	var g getJSON
	if err := json.Unmarshal([]byte(r.stdout), &g); err != nil {
		t.Fatalf("get --json: %v\n%s", err, r.stdout)
	}
	return g
}

// TestGetDeviceLimitMidDownload is the check of issue 18 for a server whose
// records exceed the device's bound in the middle of a download (after 300
// KiB on a connection): get --device-limit 2048 without Range chunks fails
// with the EMSGSIZE-like error, exit 1, never "done"; with --range-chunk
// auto the measurement (which sees the small records of a young
// connection) picks a chunk, the download's connection then fails as the
// device's would, and get goes on from the same offset with a chunk 128 B
// smaller, until the file is whole.
func TestGetDeviceLimitMidDownload(t *testing.T) {
	body, sum := randomBody(1 << 20)
	base, ca := agingServer(t, body, 300<<10)
	dir := t.TempDir()

	r := runBin(t, "get", "--json", "--ca", ca, "--device-limit", "2048", "-o", filepath.Join(dir, "a.bin"), base+"/fw.bin")
	g := decodeGet(t, r)
	if r.code != exitRecordLimit || g.ExitStatus != exitRecordLimit || g.OK || g.Cause != "emsgsize" || !strings.Contains(g.Error, "EMSGSIZE") {
		t.Errorf("without chunks: exit %d, ok %v, cause %q, error %q", r.code, g.OK, g.Cause, g.Error)
	}
	if len(g.Connections) != 1 || g.Largest.Received <= 2072 {
		t.Errorf("without chunks: %d connections, largest received %d", len(g.Connections), g.Largest.Received)
	}
	h := runBin(t, "get", "--ca", ca, "--device-limit", "2048", "-o", filepath.Join(dir, "a.bin"), base+"/fw.bin")
	if h.code != exitRecordLimit || !strings.Contains(h.stdout, "tlsapp get: FAILED") || !strings.Contains(h.stdout, "EMSGSIZE") || strings.Contains(h.stdout, "done") {
		t.Errorf("human report: exit %d", h.code)
	}

	out := filepath.Join(dir, "b.bin")
	r = runBin(t, "get", "--json", "--ca", ca, "--range-chunk", "auto", "--device-limit", "2048", "--sha256", sum, "-o", out, base+"/fw.bin")
	g = decodeGet(t, r)
	if r.code != 0 || !g.OK || fileSHA(t, out) != sum {
		t.Fatalf("with --range-chunk auto: exit %d, %s", r.code, g.Error)
	}
	shrinks := 0
	var offsets []int64
	for _, ev := range g.Events {
		if ev.Kind == "shrink" {
			shrinks++
			offsets = append(offsets, ev.Offset)
		}
	}
	if g.RangeSizing == nil || shrinks == 0 || g.RangeChunk != g.RangeSizing.Chunk-128*shrinks {
		t.Fatalf("measured %+v, ended with %d after %d shrinks", g.RangeSizing, g.RangeChunk, shrinks)
	}
	if len(g.Connections) != shrinks+1 {
		t.Errorf("%d connections for %d shrinks", len(g.Connections), shrinks)
	}
	for i, off := range offsets {
		// Each connection got past its young stretch (300 KiB with the
		// answers' headers) before failing.
		if off < 250<<10 || i > 0 && off <= offsets[i-1] {
			t.Errorf("shrink %d at offset %d (offsets %v)", i, off, offsets)
		}
	}
	t.Logf("measured %d, ended with %d after %d shrinks at %v", g.RangeSizing.Chunk, g.RangeChunk, shrinks, offsets)
}

// TestGetKeepsFailedConnection is the check of issue 18, item 7: gnutls in
// TLS 1.2 echoes max_fragment_length and then sends 16 KiB records; get
// fails with record_overflow, and its report keeps the connection: the
// agreement, the version and suite, and the largest record received, where
// it said "0 connection(s)" and 0/0.
func TestGetKeepsFailedConnection(t *testing.T) {
	bin := peerproc.Require(t, "gnutls-serv", "gnutls-bin")
	ca, cert, key := peerFiles(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "page.bin")
	os.WriteFile(page, make([]byte, 40000), 0o644)
	addr := peerproc.Start(t, dir, bin, "--http", "--httpdata", page, "-p", "%PORT%", "--x509certfile", cert, "--x509keyfile", key)
	out := filepath.Join(t.TempDir(), "page.bin")
	r := runBin(t, "get", "--json", "--ca", ca, "--tls", "1.2", "--mfl", "512", "-o", out, "https://"+addr+"/")
	g := decodeGet(t, r)
	if r.code != exitRecordLimit || g.OK || !strings.Contains(g.Error, "record_overflow") {
		t.Fatalf("exit %d, error %q", r.code, g.Error)
	}
	if len(g.Connections) != 1 {
		t.Fatalf("%d connections in the report, want the failed one", len(g.Connections))
	}
	c := g.Connections[0]
	if c.Version != "TLS 1.2" || c.Agreed != "max_fragment_length" || c.AgreedMaxFragmentLength != 512 || c.HandshakeBytesReceived == 0 {
		t.Errorf("connection %+v", c)
	}
	if g.Largest.Received < 16384 {
		t.Errorf("largest record received %d, want gnutls's 16 KiB record", g.Largest.Received)
	}
	h := runBin(t, "get", "--ca", ca, "--tls", "1.2", "--mfl", "512", "-o", out, "https://"+addr+"/")
	if !strings.Contains(h.stdout, "1 connection(s)") || !strings.Contains(h.stdout, "max_fragment_length 512 (server echoed it)") {
		t.Errorf("human report does not show the connection")
	}
}

// TestProbeServeDefaults is the check of issue 18, item 3: tlsapp serve with
// its defaults keeps to every offered limit without answering; for a
// 2048-byte device probe recommends a 2048 offer (the fewest records), and
// its explanation gives that row's record and bound.
func TestProbeServeDefaults(t *testing.T) {
	addr, ca, _ := serveFile(t, 1<<20)
	rep, r := probeJSON(t, "--ca", ca, "--device-limit", "2048", "https://"+addr+"/fw.bin")
	v := rep.Verdict
	if r.code != 0 || !v.Works || !strings.Contains(v.Recommend, "offer record_size_limit 2048 with TLS 1.3") {
		t.Fatalf("exit %d, verdict %+v", r.code, v)
	}
	var row probe.Connection
	for _, c := range rep.Cases {
		if c.Version == "TLS 1.3" && c.Extension == probe.ExtRecordSizeLimit && c.Limit == 2048 {
			row = c
		}
	}
	if want := fmt.Sprintf("largest record %d B, bound %d B", row.LargestProtected, row.Bound); row.Bound == 0 || !strings.Contains(v.Summary, want) {
		t.Errorf("summary %q does not give the row's figures (%s)", v.Summary, want)
	}
	if rep.Range == nil || rep.Range.Connections != 1 || rep.Range.LargestRecord > rep.Range.Bound {
		t.Errorf("range %+v", rep.Range)
	}
}

// TestProbeScriptedTLS12 checks probe's verdicts against the scripted TLS
// 1.2 servers of issue 18: an mbedTLS 2.28-like one (echoes MFL, then sends
// its Certificate in one record: MFL 512 broken, the rest kept), whose
// verdict for a 512-byte device names the broken agreement and lists the
// three remedies; and a gnutls-like one that answers record_size_limit and
// sends its Certificate in the clear above 512 B, which RFC 8449 allows and
// a modem cannot hold: the row and the verdict say so.
func TestProbeScriptedTLS12(t *testing.T) {
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	chain := [][]byte{ta.Server.Certificate[0], ta.CA.Raw}
	key := ta.Server.PrivateKey.(crypto.Signer)

	mbed := &scripted.Server12{Chain: chain, Key: key, AnswerMFL: true, WholeCertificate: true, Body: make([]byte, 200<<10)}
	addr := scripted.ServeEach(t, mbed.Serve)
	rep, r := probeJSON(t, "--ca", ca, "--device-limit", "512", "--read-time", "1s", addr)
	v := rep.Verdict
	if r.code != exitProbeFails || v.Kind != probe.Fails || !strings.Contains(v.Summary, "agrees to max_fragment_length 512 in TLS 1.2 and then breaks the agreement") ||
		strings.Contains(v.Summary, "neither") {
		t.Errorf("mbedTLS-like, 512: exit %d, %+v", r.code, v)
	}
	names := map[string]bool{}
	for _, m := range v.Remedies {
		names[m.Name] = true
	}
	if !names[probe.RemedyAppCore] || !names[probe.RemedyEdge] || !names[probe.RemedyRange] {
		t.Errorf("remedies %+v", v.Remedies)
	}
	h := runBin(t, "probe", "--ca", ca, "--device-limit", "512", "--read-time", "1s", addr)
	for _, want := range []string{"Without changing the server", "KiB of heap per connection", "tlsapp edge --origin", "violated"} {
		if !strings.Contains(h.stdout, want) {
			t.Errorf("mbedTLS-like, human report: no %q", want)
		}
	}
	if rep, _ := probeJSON(t, "--ca", ca, "--device-limit", "2048", "--read-time", "1s", addr); rep.Verdict.Kind != probe.WorksAgreed ||
		!strings.Contains(rep.Verdict.Recommend, "max_fragment_length 2048 with TLS 1.2") {
		t.Errorf("mbedTLS-like, 2048: %+v", rep.Verdict)
	}

	gnu := &scripted.Server12{Chain: chain, Key: key, AnswerRSL: 16384, Body: make([]byte, 200<<10)}
	addr = scripted.ServeEach(t, gnu.Serve)
	rep, _ = probeJSON(t, "--ca", ca, "--device-limit", "512", "--read-time", "1s", addr)
	for _, c := range rep.Cases {
		if c.Version == "TLS 1.2" && c.Extension == probe.ExtRecordSizeLimit && c.Limit == 512 &&
			(c.Result != probe.ResultAgreed || c.LargestPlaintext <= 512 || c.LargestProtected > c.Bound) {
			t.Errorf("RSL 512 row: %+v", c)
		}
	}
	if !strings.Contains(strings.Join(rep.Verdict.Details, "\n"), "RFC 8449 allows it") {
		t.Errorf("gnutls-like, 512: no remark on the plaintext handshake record: %+v", rep.Verdict)
	}
	h = runBin(t, "probe", "--ca", ca, "--device-limit", "512", "--read-time", "1s", addr)
	if !strings.Contains(h.stdout, "plaintext handshake record (RFC 8449 allows it, a modem fails on it)") {
		t.Errorf("gnutls-like, human report: the RSL 512 row has no remark")
	}
}

// TestGetTrace: get --trace names each connection (the Range measurement's
// "range", the download's "conn 1"), decodes its handshake, and its JSON
// lines parse; the largest record the download's connection received is
// within the device's bound, as the measurement promised.
func TestGetTrace(t *testing.T) {
	addr, ca, _ := serveFile(t, 300<<10)
	out := filepath.Join(t.TempDir(), "fw.bin")
	r := runBin(t, "get", "--ca", ca, "--tls", "1.3", "--range-chunk", "auto", "--device-limit", "2048", "--trace", "-o", out, "https://"+addr+"/fw.bin")
	for _, want := range []string{"trace [range] ", "trace [conn 1] ", "connected to " + addr, "ClientHello", "[handshake", "EncryptedExtensions", "Finished", "closed"} {
		if r.code != 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("exit %d; the trace does not say %q", r.code, want)
		}
	}
	r = runBin(t, "get", "--ca", ca, "--tls", "1.3", "--range-chunk", "auto", "--device-limit", "2048", "--trace", "--trace-format", "json", "-o", out, "https://"+addr+"/fw.bin")
	largest := map[string]int{}
	for _, l := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var ev struct {
			Conn, Event, Dir string
			Len              int
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if ev.Event == "record" && ev.Dir == "received" {
			largest[ev.Conn] = max(largest[ev.Conn], ev.Len)
		}
	}
	if len(largest) != 2 || largest["range"] == 0 || largest["conn 1"] == 0 || largest["conn 1"] > 2048+1+16 || largest["range"] > 2048+1+16 {
		t.Errorf("largest received record per connection %v, want range and conn 1 within 2065", largest)
	}
}
