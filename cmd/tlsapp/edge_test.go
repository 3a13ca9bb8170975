package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// heldOrigin is an HTTPS origin serving one image at /fw.bin with a strong
// ETag; while held, each response stops after the first holdAt bytes until
// the origin is released. It counts the full-body responses.
type heldOrigin struct {
	url, caFile string
	image       []byte
	holdAt      int

	mu      sync.Mutex
	held    bool
	release chan struct{}
	full    int // 200 responses
}

func startHeldOrigin(t *testing.T, size, holdAt int) *heldOrigin {
	t.Helper()
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	o := &heldOrigin{image: make([]byte, size), holdAt: holdAt, held: true, release: make(chan struct{})}
	rand.Read(o.image)
	o.caFile = filepath.Join(t.TempDir(), "origin-ca.pem")
	os.WriteFile(o.caFile, pemCert(ta.CA), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.url = "https://" + ln.Addr().String()
	srv := &http.Server{ErrorLog: quietLog(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"k1"`)
		if r.URL.Path != "/fw.bin" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-None-Match") == `"k1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		o.mu.Lock()
		o.full++
		held, release := o.held, o.release
		o.mu.Unlock()
		w.Header().Set("Content-Length", fmt.Sprint(len(o.image)))
		w.WriteHeader(http.StatusOK)
		n := len(o.image)
		if held {
			n = o.holdAt
		}
		w.Write(o.image[:n])
		http.NewResponseController(w).Flush()
		if held {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			w.Write(o.image[n:])
		}
	})}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{ta.Server}}))
	t.Cleanup(func() {
		o.unhold()
		srv.Close()
	})
	return o
}

// unhold lets held responses go on and later ones go through whole.
func (o *heldOrigin) unhold() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.held {
		o.held = false
		close(o.release)
	}
}

func (o *heldOrigin) fullResponses() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.full
}

// edgeProc is a running "tlsapp edge" process.
type edgeProc struct {
	cmd    *exec.Cmd
	url    string // https://127.0.0.1:PORT, no slash
	ca     string
	stderr *bytes.Buffer
	done   chan struct{}
}

func startEdgeProc(t *testing.T, origin *heldOrigin, cacheDir string, args ...string) *edgeProc {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "edge-ca.pem")
	base := []string{"edge", "--origin", origin.url, "--origin-ca", origin.caFile, "--cache-dir", cacheDir, "--addr", "127.0.0.1:0"}
	if slices.Contains(args, "--cert") {
		ca = ""
	} else {
		base = append(base, "--write-ca", ca)
	}
	cmd := exec.Command(binPath, append(base, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &edgeProc{cmd: cmd, ca: ca, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading edge's first line: %v", err)
	}
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "edge" || !strings.HasPrefix(f[1], "https://127.0.0.1:") {
		t.Fatalf("edge's first line is %q", line)
	}
	p.url = strings.TrimSuffix(f[1], "/")
	go io.Copy(io.Discard, br)
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// modemHTTP is an HTTP client on the modem stand-in trusting caFile.
func modemHTTP(t *testing.T, caFile string) *http.Client {
	t.Helper()
	certs, err := loadCerts(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsapp.ModemConfig("127.0.0.1")
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AddCert(certs[0])
	return &http.Client{Transport: tlsapp.NewTransport(&tlsapp.Dialer{Config: cfg}, nil), Timeout: time.Minute}
}

// TestEdgeKilledMidFill: the edge process is killed (SIGKILL) while it
// fills an image from a slow origin and a device is downloading it; the
// restarted edge serves no truncated object (the partial file is gone, a
// full download has the image's SHA-256) and the device's resumed
// download (Range from where it stopped, If-Range with the ETag it got)
// completes the image.
func TestEdgeKilledMidFill(t *testing.T) {
	origin := startHeldOrigin(t, 1<<20, 300<<10)
	cacheDir := t.TempDir()
	e1 := startEdgeProc(t, origin, cacheDir)
	resp, err := modemHTTP(t, e1.ca).Get(e1.url + "/fw.bin")
	if err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag != `"k1"` {
		t.Fatalf("status %d, ETag %q", resp.StatusCode, etag)
	}
	got := make([]byte, 200<<10)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	if parts, _ := filepath.Glob(filepath.Join(cacheDir, "*.part")); len(parts) != 1 {
		t.Fatalf("mid-fill the cache holds %v", parts)
	}
	e1.cmd.Process.Signal(syscall.SIGKILL)
	<-e1.done
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("the device read %d more bytes and a clean end after the edge died", len(rest))
	}
	got = append(got, rest...)
	if !bytes.Equal(got, origin.image[:len(got)]) {
		t.Fatal("the device's bytes before the kill are wrong")
	}
	if objs, _ := filepath.Glob(filepath.Join(cacheDir, "*.obj")); len(objs) != 0 {
		t.Fatalf("a killed fill left a complete-looking object: %v", objs)
	}

	origin.unhold()
	e2 := startEdgeProc(t, origin, cacheDir)
	if parts, _ := filepath.Glob(filepath.Join(cacheDir, "*.part")); len(parts) != 0 {
		t.Fatalf("the restarted edge kept the partial fill %v", parts)
	}
	dev := modemHTTP(t, e2.ca)
	req, _ := http.NewRequest("GET", e2.url+"/fw.bin", nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", len(got)))
	req.Header.Set("If-Range", etag)
	resp, err = dev.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("bytes %d-%d/%d", len(got), len(origin.image)-1, len(origin.image))
	if err != nil || resp.StatusCode != 206 || resp.Header.Get("Content-Range") != want {
		t.Fatalf("resume: status %d, Content-Range %q (want %q), %v", resp.StatusCode, resp.Header.Get("Content-Range"), want, err)
	}
	if sha256.Sum256(append(got, tail...)) != sha256.Sum256(origin.image) {
		t.Fatal("the resumed download is not the image")
	}
	resp, err = dev.Get(e2.url + "/fw.bin")
	if err != nil {
		t.Fatal(err)
	}
	whole, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || sha256.Sum256(whole) != sha256.Sum256(origin.image) {
		t.Fatalf("full download after the restart: status %d, %d bytes, %v", resp.StatusCode, len(whole), err)
	}
	if n := origin.fullResponses(); n != 2 {
		t.Fatalf("origin sent %d full responses, want 2 (the killed fill and one after the restart)", n)
	}
}

// TestEdgeGracefulShutdown: SIGTERM stops the edge once the download in
// progress has ended (it completes), and the process exits 0; the metrics
// endpoint counted the request, and stderr has its JSON log line.
func TestEdgeGracefulShutdown(t *testing.T) {
	origin := startHeldOrigin(t, 256<<10, 100<<10)
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := mln.Addr().String()
	mln.Close()
	e := startEdgeProc(t, origin, t.TempDir(), "--metrics-addr", maddr)
	resp, err := modemHTTP(t, e.ca).Get(e.url + "/fw.bin?sig=abc")
	if err != nil {
		t.Fatal(err)
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	select {
	case <-e.done:
		t.Fatal("the edge exited with a download in progress")
	default:
	}
	mresp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), "edge_fills_in_progress 1") || !strings.Contains(string(metrics), "edge_connections 1") {
		t.Errorf("metrics during the download:\n%s", metrics)
	}
	origin.unhold()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || sha256.Sum256(body) != sha256.Sum256(origin.image) {
		t.Fatalf("the download in progress at SIGTERM: %d bytes, %v", len(body), err)
	}
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the edge did not exit after SIGTERM")
	}
	if code := e.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, e.stderr)
	}
	logs := e.stderr.String()
	if !strings.Contains(logs, `"msg":"request"`) || !strings.Contains(logs, `"path":"/fw.bin"`) || strings.Contains(logs, "sig=abc") ||
		!strings.Contains(logs, `"tls":"TLS 1.2"`) || !strings.Contains(logs, `"cache":"miss"`) {
		t.Fatalf("log lines:\n%s", logs)
	}
}

// TestEdgeUsage: the edge's usage errors exit 2 before anything starts.
func TestEdgeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"edge"},
		{"edge", "--cache-dir", t.TempDir()},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "--max-record", "63"},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "--cache-size", "0"},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "--cache-size", "1T"},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "--tls", "1.1"},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "--cert", "x.pem"},
		{"edge", "--origin", "https://127.0.0.1:1", "--cache-dir", t.TempDir(), "extra"},
	} {
		if r := runBin(t, args...); r.code != 2 {
			t.Errorf("%v: status %d, want 2", args, r.code)
		}
	}
	if r := runBin(t, "edge", "--origin", "http://127.0.0.1:1", "--cache-dir", t.TempDir(), "--addr", "127.0.0.1:0"); r.code != 1 || !strings.Contains(r.stderr, "https") {
		t.Errorf("plain-http origin: status %d, %s", r.code, r.stderr)
	}
}

// TestEdgeTicketKeysFleet: two edge processes sharing a ticket-key file
// (--ticket-keys) resume each other's sessions, for the modem stand-in in
// TLS 1.2 and for a TLS 1.3 client, and the download on the second edge is
// the image.
func TestEdgeTicketKeysFleet(t *testing.T) {
	origin := startHeldOrigin(t, 64<<10, 0)
	origin.unhold()
	f := newFleetFiles(t)
	f.writeKeys(t, newKeyLine()+"\n"+newKeyLine()+"\n")
	args := []string{"--cert", f.cert, "--key", f.key, "--ticket-keys", f.keys}
	a := startEdgeProc(t, origin, t.TempDir(), args...)
	b := startEdgeProc(t, origin, t.TempDir(), args...)
	certs, err := loadCerts(f.ca)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := tlsapp.ModemConfig("localhost")
		cfg.RootCAs = x509.NewCertPool()
		cfg.RootCAs.AddCert(certs[0])
		cfg.ClientSessionCache = tlsapp.NewSessionCache(4)
		if v == tls.VersionTLS13 {
			cfg.MaxVersion, cfg.CipherSuites = tls.VersionTLS13, nil
		}
		var resumed []bool
		c := &http.Client{Transport: tlsapp.NewTransport(&tlsapp.Dialer{Config: cfg}, func(c *tlsapp.Conn) {
			resumed = append(resumed, c.RecordState().Resumed)
		}), Timeout: time.Minute}
		c.Transport.(*http.Transport).DisableKeepAlives = true
		for _, e := range []*edgeProc{a, b} {
			resp, err := c.Get(e.url + "/fw.bin")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(body, origin.image) {
				t.Fatalf("%s: %d bytes, %v", e.url, len(body), err)
			}
		}
		if len(resumed) != 2 || resumed[0] || !resumed[1] {
			t.Fatalf("%s: resumed %v, want a full handshake on the first edge and a resumption on the second", tls.VersionName(v), resumed)
		}
	}
}
