package download_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/internal/testpki"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// resource is an HTTP resource served with http.ServeContent, which
// answers Range and If-Range, and can be replaced while a test runs.
type resource struct {
	mu   sync.Mutex
	body []byte
	etag string    // sent as ETag when not empty
	mod  time.Time // sent as Last-Modified when not zero
	// ignoreIfRange makes the server apply Range whatever If-Range says,
	// as some servers do.
	ignoreIfRange bool
	reqs          []http.Header // the request headers seen
}

func (rs *resource) set(body []byte, etag string, mod time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.body, rs.etag, rs.mod = body, etag, mod
}

func (rs *resource) requests() []http.Header {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]http.Header(nil), rs.reqs...)
}

func (rs *resource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	body, etag, mod, ignore := rs.body, rs.etag, rs.mod, rs.ignoreIfRange
	h := r.Header.Clone()
	h.Set("X-Method", r.Method)
	h.Set("X-Target", r.RequestURI)
	rs.reqs = append(rs.reqs, h)
	rs.mu.Unlock()
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if ignore {
		r.Header.Del("If-Range")
	}
	http.ServeContent(w, r, "", mod, bytes.NewReader(body))
}

// startHTTPS serves h over crypto/tls on 127.0.0.1 and returns the URL of
// /fw.bin and the options that trust the server.
func startHTTPS(t *testing.T, h http.Handler) (string, download.Options) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the cuts make handshakes fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv.URL + "/fw.bin", download.Options{
		Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: pool}},
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
}

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// events collects a download's events.
type events struct {
	mu  sync.Mutex
	all []download.Event
}

func (e *events) add(ev download.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) count(k download.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// interrupted runs a download to path that is cancelled once at least
// stop bytes are held, as a process killed mid-transfer would be, and
// checks that it left a partial file.
func interrupted(t *testing.T, url, path string, opt download.Options, stop int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt.Progress = func(done, total int64) {
		if done >= stop {
			cancel()
		}
	}
	if _, err := download.File(ctx, url, path, opt); err == nil {
		t.Fatal("the interrupted download succeeded")
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("the target exists after an interrupted download")
	}
	if st, err := os.Stat(path + ".part"); err != nil || st.Size() < stop {
		t.Fatalf("partial file: %v", err)
	}
}

// rawTLSServer serves HTTP/1.0 over crypto/tls without net/http: every
// connection reads one request and gets respond's answer; when closeNotify
// returns false for a connection, it ends with a TCP close under the TLS
// connection instead of close_notify.
func rawTLSServer(t *testing.T, respond func(n int, w *bufio.Writer), closeNotify func(n int) bool) (string, download.Options) {
	t.Helper()
	ca := testpki.Issue(t, "download test CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	leaf := testpki.Issue(t, "127.0.0.1", false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ca, "127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conns := 0
	testnet.Serve(t, ln, 20*time.Second, func(raw net.Conn) {
		mu.Lock()
		n := conns
		conns++
		mu.Unlock()
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{leaf.TLS()}})
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		w := bufio.NewWriter(c)
		respond(n, w)
		w.Flush()
		if closeNotify(n) {
			c.Close()
		} else {
			raw.Close()
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return "https://" + ln.Addr().String() + "/fw.bin", download.Options{
		Dialer:  &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: pool}},
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
}

// pemServerFiles issues a server certificate for 127.0.0.1 and writes it
// and its key as PEM files for an external server; the options trust it.
func pemServerFiles(t *testing.T) (cert, key string, opt download.Options) {
	t.Helper()
	ca := testpki.Issue(t, "download test CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	leaf := testpki.Issue(t, "127.0.0.1", false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ca, "127.0.0.1")
	dir := t.TempDir()
	cert, key = dir+"/cert.pem", dir+"/key.pem"
	if err := os.WriteFile(cert, leaf.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, leaf.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return cert, key, download.Options{Dialer: &tlsapp.Dialer{Config: &tlsapp.Config{RootCAs: pool}}}
}
