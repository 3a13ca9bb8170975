package download_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/recordlimit"
)

func TestRetriable(t *testing.T) {
	reset := &url.Error{Op: "Get", URL: "https://h/", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
		cause string
	}{
		{"reset", reset, true, "reset"},
		{"cut", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true, "cut"},
		{"truncated", fmt.Errorf("%w (after 5 bytes)", download.ErrTruncated), true, "truncated"},
		{"idle", download.ErrIdleTimeout, true, "idle-timeout"},
		{"deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true, "timeout"},
		{"503", &download.StatusError{Code: 503, Status: "503 Service Unavailable"}, true, "status"},
		{"404", &download.StatusError{Code: 404, Status: "404 Not Found"}, false, "status"},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false, "canceled"},
		{"unknown CA", &url.Error{Op: "Get", URL: "https://h/", Err: x509.UnknownAuthorityError{}}, false, "other"},
		{"record overflow", &recordlimit.RecordOverflowError{Len: 3000, Limit: 2048}, false, "other"},
		{"changed", &download.ChangedError{Reason: "r"}, false, "changed"},
		// A message that reads like a retriable one is not one.
		{"words only", errors.New("connection reset by peer: unexpected EOF"), false, "other"},
	} {
		if got := download.Retriable(tc.err); got != tc.retry {
			t.Errorf("%s: Retriable %v, want %v", tc.name, got, tc.retry)
		}
		if got := download.Cause(tc.err); got != tc.cause {
			t.Errorf("%s: Cause %q, want %q", tc.name, got, tc.cause)
		}
	}
}

// TestIdleTimeout: a server that stalls mid-body is given up on after the
// idle timeout, and the retry continues where the stall left off.
func TestIdleTimeout(t *testing.T) {
	body := random(t, 512<<10)
	var n atomic.Int64
	stall := make(chan struct{})
	url, opt := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"s"`)
		if n.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:200<<10])
			w.(http.Flusher).Flush()
			<-stall
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(func() { close(stall) }) // before the server's Close, which waits for handlers
	var ev events
	opt.IdleTimeout, opt.Event = 200*time.Millisecond, ev.add
	path := filepath.Join(t.TempDir(), "fw.bin")
	if _, err := download.File(context.Background(), url, path, opt); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
		t.Fatal("wrong body")
	}
	if len(ev.all) != 1 || ev.all[0].Reason != "idle-timeout" || ev.all[0].Offset < 100<<10 {
		t.Errorf("events %+v, want one idle-timeout retry after the first 200 KiB", ev.all)
	}
}

// TestBadSidecar: a sidecar that is not one this package wrote (too long,
// unknown fields, another URL) is not trusted: the download starts over.
func TestBadSidecar(t *testing.T) {
	body := random(t, 100<<10)
	rs := &resource{}
	rs.set(body, `"x"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	for _, meta := range []string{
		strings.Repeat("{", 5000),
		`{"format":1,"url":"` + url + `","etag":"\"x\"","size":102400,"evil":true}`,
		`{"format":1,"url":"https://elsewhere/fw.bin","etag":"\"x\"","size":102400}`,
	} {
		path := filepath.Join(t.TempDir(), "fw.bin")
		os.WriteFile(path+".part", bytes.Repeat([]byte{'X'}, 50<<10), 0o644)
		os.WriteFile(path+".part.meta", []byte(meta), 0o644)
		var ev events
		o := opt
		o.Resume, o.Event = true, ev.add
		if _, err := download.File(context.Background(), url, path, o); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
			t.Fatalf("sidecar %.40q: the partial file was trusted", meta)
		}
		if ev.count(download.EventRestart) != 1 || ev.count(download.EventResume) != 0 {
			t.Errorf("sidecar %.40q: events %+v", meta, ev.all)
		}
	}
}

// TestStream: to a writer, a cut connection is continued with If-Range; a
// resource that changed once bytes were written is a *ChangedError.
func TestStream(t *testing.T) {
	body := random(t, 1<<20)
	rs := &resource{}
	rs.set(body, `"v1"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	cut := testnet.NewCutter(t, urlHost(url), []int64{300 << 10}, []bool{true})
	var buf bytes.Buffer
	res, err := download.Stream(context.Background(), "https://"+cut.Addr+"/fw.bin", &buf, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), body) || res.Retries != 1 {
		t.Fatalf("%d bytes, %d retries", buf.Len(), res.Retries)
	}

	cut = testnet.NewCutter(t, urlHost(url), []int64{300 << 10}, []bool{false})
	buf.Reset()
	opt.Event = func(e download.Event) {
		if e.Kind == download.EventRetry {
			rs.set(random(t, 1<<20), `"v2"`, time.Time{})
		}
	}
	_, err = download.Stream(context.Background(), "https://"+cut.Addr+"/fw.bin", &buf, opt)
	if !errors.Is(err, download.ErrChanged) {
		t.Fatalf("err %v, want ErrChanged", err)
	}
	if !bytes.Equal(buf.Bytes(), body[:buf.Len()]) {
		t.Fatal("the stream holds bytes of the second version")
	}
}
