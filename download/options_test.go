package download_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// TestBackoffDefaults checks the first retry's wait, as its EventRetry
// reports it, for each way of leaving Backoff and MaxBackoff to their
// defaults (500ms and 10s) or setting them. The wait is drawn between half
// and all of min(Backoff, MaxBackoff). The test cancels the download from
// the event, so that no wait is slept.
func TestBackoffDefaults(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name                string
		backoff, maxBackoff time.Duration
		lo, hi              time.Duration
	}{
		{"both default", 0, 0, 250 * ms, 500 * ms},
		{"negative is default", -ms, -ms, 250 * ms, 500 * ms},
		{"backoff set, max default 10s", 4 * time.Second, 0, 2 * time.Second, 4 * time.Second},
		{"backoff above the default max", 30 * time.Second, 0, 5 * time.Second, 10 * time.Second},
		{"backoff set and kept", ms, 0, ms / 2, ms},
		{"max set and kept", 8 * ms, 2 * ms, ms, 2 * ms},
		{"backoff default, max set", 0, 100 * ms, 50 * ms, 100 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, opt := startHTTPS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "busy", http.StatusServiceUnavailable)
			}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var waits []time.Duration
			opt.Backoff, opt.MaxBackoff = tc.backoff, tc.maxBackoff
			opt.Event = func(ev download.Event) {
				if ev.Kind == download.EventRetry {
					waits = append(waits, ev.Wait)
					cancel()
				}
			}
			_, err := download.Stream(ctx, url, &bytes.Buffer{}, opt)
			if err == nil {
				t.Fatal("a 503 download succeeded")
			}
			if len(waits) != 1 {
				t.Fatalf("%d retry events, want 1 (err %v)", len(waits), err)
			}
			if w := waits[0]; w < tc.lo || w > tc.hi {
				t.Errorf("first retry waits %v, want within [%v, %v]", w, tc.lo, tc.hi)
			}
		})
	}
}

// TestResumeKeyBound checks Options.ResumeKey's bound, 1 KiB, on both
// sides: a key of 1024 bytes downloads, one of 1025 is refused before any
// request is made.
func TestResumeKeyBound(t *testing.T) {
	body := random(t, 1000)
	for _, tc := range []struct {
		n  int
		ok bool
	}{{1024, true}, {1025, false}} {
		rs := &resource{body: body, etag: `"v1"`}
		url, opt := startHTTPS(t, rs)
		opt.ResumeKey = strings.Repeat("k", tc.n)
		path := filepath.Join(t.TempDir(), "fw.bin")
		res, err := download.File(context.Background(), url, path, opt)
		if tc.ok {
			if err != nil || res.Size != int64(len(body)) {
				t.Errorf("key of %d bytes: %v, %d bytes", tc.n, err, res.Size)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "ResumeKey") {
			t.Errorf("key of %d bytes: error %v, want one naming ResumeKey", tc.n, err)
		}
		if n := len(rs.requests()); n != 0 {
			t.Errorf("key of %d bytes: the server saw %d requests, want 0", tc.n, n)
		}
	}
}

// TestResultBeforeAnyResponse checks the Result of a download refused
// before any request: no bytes, and Total -1 (never learnt), for File and
// Stream alike.
func TestResultBeforeAnyResponse(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1/fw.bin", "https:///fw.bin", "://"} {
		res, err := download.File(context.Background(), url, filepath.Join(t.TempDir(), "fw.bin"), download.Options{})
		if err == nil || res == nil || res.Total != -1 || res.Size != 0 {
			t.Errorf("File(%q): %+v, %v; want an error and Total -1", url, res, err)
		}
		res, err = download.Stream(context.Background(), url, &bytes.Buffer{}, download.Options{})
		if err == nil || res == nil || res.Total != -1 || res.Size != 0 {
			t.Errorf("Stream(%q): %+v, %v; want an error and Total -1", url, res, err)
		}
	}
}
