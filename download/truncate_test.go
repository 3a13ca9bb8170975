package download_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
)

// TestNoContentLength serves HTTP/1.0 bodies without Content-Length, which
// end at the connection's close, from a crypto/tls server on a real
// socket. A body cut cleanly at a record boundary by a TCP close without
// close_notify must fail with ErrTruncated after its retries, with no file
// renamed into place; one that ends with close_notify is complete; a first
// connection cut and a second whole gives the whole body.
func TestNoContentLength(t *testing.T) {
	body := random(t, 256<<10)
	head := "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"
	for _, tc := range []struct {
		name   string
		notify func(n int) bool // connection n ends with close_notify
		cut    func(n int) bool // connection n sends only half the body
		ok     bool
	}{
		{"cut without close_notify", func(int) bool { return false }, func(int) bool { return true }, false},
		{"whole without close_notify", func(int) bool { return false }, func(int) bool { return false }, false},
		{"whole with close_notify", func(int) bool { return true }, func(int) bool { return false }, true},
		{"first cut, then whole", func(n int) bool { return n > 0 }, func(n int) bool { return n == 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, opt := rawTLSServer(t, func(n int, w *bufio.Writer) {
				io.WriteString(w, head)
				if tc.cut(n) {
					w.Write(body[:len(body)/2])
				} else {
					w.Write(body)
				}
			}, tc.notify)
			var ev events
			opt.Retries, opt.Event = 2, ev.add
			path := filepath.Join(t.TempDir(), "fw.bin")
			res, err := download.File(context.Background(), url, path, opt)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
					t.Fatalf("wrong body")
				}
				if st := res.Connections[len(res.Connections)-1]; !st.CloseNotify {
					t.Errorf("the last connection's RecordState does not report the close_notify")
				}
				return
			}
			if !errors.Is(err, download.ErrTruncated) {
				t.Fatalf("err %v, want ErrTruncated", err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a file was renamed into place")
			}
			if ev.count(download.EventRetry) != 2 || res.Retries != 2 {
				t.Errorf("%d retry events, Retries %d; want 2", ev.count(download.EventRetry), res.Retries)
			}
			for _, e := range ev.all {
				if e.Kind == download.EventRetry && e.Reason != "truncated" {
					t.Errorf("retry for %q, want truncated", e.Reason)
				}
			}
			for _, st := range res.Connections {
				if st.CloseNotify {
					t.Errorf("a connection reports close_notify the server never sent")
				}
			}
		})
	}
}

// TestOpenSSLWWW downloads from openssl s_server -WWW (HTTP/1.0, no
// Content-Length, the body ended by close_notify).
func TestOpenSSLWWW(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	dir := t.TempDir()
	body := random(t, 300<<10)
	if err := os.WriteFile(filepath.Join(dir, "fw.bin"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	cert, key, opt := pemServerFiles(t)
	addr := peerproc.Start(t, dir, bin, "s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-WWW", "-quiet")
	path := filepath.Join(t.TempDir(), "fw.bin")
	res, err := download.File(context.Background(), "https://"+addr+"/fw.bin", path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
		t.Fatal("wrong body")
	}
	if len(res.Connections) != 1 || !res.Connections[0].CloseNotify {
		t.Errorf("connections %+v: want one, with close_notify", res.Connections)
	}
}

// TestRandomCuts downloads 20 MiB in Range chunks and in one request through
// a relay that cuts 50 connections at random byte counts towards the client
// (FIN or reset, inside handshakes, headers, records and bodies): the
// SHA-256 must be right every time.
func TestRandomCuts(t *testing.T) {
	size := 20 << 20
	if testing.Short() {
		size = 4 << 20
	}
	body := random(t, size)
	rs := &resource{}
	rs.set(body, `"fw-20m"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for _, chunk := range []int{0, 1 << 20} {
		t.Run(fmt.Sprint("chunk ", chunk), func(t *testing.T) {
			cuts := make([]int64, 50)
			resets := make([]bool, 50)
			for i := range cuts {
				if i%10 == 0 {
					cuts[i] = r.Int64N(3000) // in the handshake or the headers
				} else {
					cuts[i] = r.Int64N(int64(2 * size / 50))
				}
				resets[i] = r.IntN(2) == 0
			}
			cut := testnet.NewCutter(t, urlHost(url), cuts, resets)
			o := opt
			o.RangeChunk, o.Retries, o.SHA256 = chunk, 20, sum(body)
			path := filepath.Join(t.TempDir(), "fw.bin")
			res, err := download.File(context.Background(), "https://"+cut.Addr+"/fw.bin", path, o)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(sum(got), sum(body)) {
				t.Fatal("SHA-256 of the file is wrong")
			}
			conns, n := cut.Stats()
			if n != 50 {
				t.Errorf("the relay cut %d connections, want 50", n)
			}
			t.Logf("%d connections, %d requests, %d retries, %d restarts", conns, res.Requests, res.Retries, res.Restarts)
		})
	}
}

func urlHost(u string) string {
	req, _ := http.NewRequest("GET", u, nil)
	return req.URL.Host
}

// TestUnknownEnd: over a connection that cannot report close_notify (a
// crypto/tls client), a body without Content-Length is not taken as
// complete unless a digest or size checks it.
func TestUnknownEnd(t *testing.T) {
	body := random(t, 64<<10)
	url, opt := rawTLSServer(t, func(n int, w *bufio.Writer) {
		io.WriteString(w, "HTTP/1.0 200 OK\r\n\r\n")
		w.Write(body)
	}, func(int) bool { return true })
	opt.Client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: opt.Dialer.Config.RootCAs}}}
	path := filepath.Join(t.TempDir(), "fw.bin")
	if _, err := download.File(context.Background(), url, path, opt); !errors.Is(err, download.ErrUnknownEnd) {
		t.Fatalf("err %v, want ErrUnknownEnd", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a file was renamed into place")
	}
	opt.SHA256 = sum(body)
	res, err := download.File(context.Background(), url, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, body) || len(res.Connections) != 0 {
		t.Fatalf("wrong body, or %d tlsapp connections reported", len(res.Connections))
	}
}
