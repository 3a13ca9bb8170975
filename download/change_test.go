package download_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// TestChangedBetweenRuns replaces the resource between an interrupted run
// and a resumed one, on servers that validate with ETag and with
// Last-Modified, with the same and with another size, with servers that
// honour If-Range and one that ignores it (it applies Range regardless). The
// resumed run must give the new body whole (and say it restarted), or, when
// restarts are forbidden, a *ChangedError and no file: never a splice.
func TestChangedBetweenRuns(t *testing.T) {
	const size = 600 << 10
	now := time.Now().Truncate(time.Second)
	etag := func(v string) (string, time.Time) { return `"` + v + `"`, time.Time{} }
	lastMod := func(v string) (string, time.Time) {
		if v == "v1" {
			return "", now.Add(-2 * time.Hour)
		}
		return "", now.Add(-time.Hour)
	}
	sameETag := func(string) (string, time.Time) { return `"same"`, time.Time{} }
	for _, tc := range []struct {
		name      string
		validator func(version string) (string, time.Time)
		newSize   int
		ignoreIR  bool
		chunk     int
	}{
		{"etag same size", etag, size, false, 0},
		{"etag new size", etag, size + 1000, false, 0},
		{"etag smaller", etag, 100 << 10, false, 0},
		{"last-modified same size", lastMod, size, false, 0},
		{"last-modified new size", lastMod, size - 1000, false, 0},
		{"etag same size chunked", etag, size, false, 64 << 10},
		{"last-modified chunked", lastMod, size + 7, false, 64 << 10},
		// A server that keeps its ETag while the size changes: the 206's
		// Content-Range total shows it.
		{"same etag new size", sameETag, size + 4096, false, 0},
		{"same etag new size chunked", sameETag, size - 4096, false, 64 << 10},
		// Servers that apply Range whatever If-Range says: the 206's
		// ETag or total shows the change; a resource that shrank below
		// the bytes held gets a 416.
		{"ignores If-Range etag", etag, size, true, 0},
		{"ignores If-Range shrank (416)", etag, 100 << 10, true, 0},
		{"ignores If-Range last-modified shrank (416)", lastMod, 100 << 10, true, 0},
	} {
		for _, forbid := range []bool{false, true} {
			name := tc.name
			if forbid {
				name += " no restart"
			}
			t.Run(name, func(t *testing.T) {
				old, fresh := random(t, size), random(t, tc.newSize)
				rs := &resource{ignoreIfRange: tc.ignoreIR}
				rs.set(old, "", time.Time{})
				e1, m1 := tc.validator("v1")
				rs.set(old, e1, m1)
				url, opt := startHTTPS(t, rs)
				opt.RangeChunk = tc.chunk
				path := filepath.Join(t.TempDir(), "fw.bin")
				interrupted(t, url, path, opt, 300<<10)

				n := len(rs.requests())
				e2, m2 := tc.validator("v2")
				rs.set(fresh, e2, m2)
				var ev events
				opt.Resume, opt.NoRestart = true, forbid
				opt.Event = func(e download.Event) { t.Logf("event %+v", e); ev.add(e) }
				res, err := download.File(context.Background(), url, path, opt)
				if forbid {
					var ce *download.ChangedError
					if !errors.As(err, &ce) || !errors.Is(err, download.ErrChanged) {
						t.Fatalf("err %v, want a *ChangedError", err)
					}
					if _, err := os.Stat(path); err == nil {
						t.Fatal("the target exists after a refused change")
					}
					return
				}
				if err != nil {
					t.Fatalf("resumed download: %v", err)
				}
				got, _ := os.ReadFile(path)
				if !bytes.Equal(got, fresh) {
					t.Fatalf("file of %d bytes is not the new body (%d bytes); first %d bytes old: %v",
						len(got), len(fresh), 300<<10, len(got) >= 300<<10 && bytes.Equal(got[:300<<10], old[:300<<10]))
				}
				if !bytes.Equal(res.SHA256, sum(fresh)) {
					t.Errorf("Result.SHA256 is not the new body's")
				}
				if ev.count(download.EventResume) != 1 || ev.count(download.EventRestart) != 1 || res.Restarts != 1 {
					t.Errorf("%d resume and %d restart events, Restarts %d; want 1, 1, 1", ev.count(download.EventResume), ev.count(download.EventRestart), res.Restarts)
				}
				checkIfRange(t, rs, n, e1, m1)
				for _, p := range []string{path + ".part", path + ".part.meta"} {
					if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s left behind", p)
					}
				}
			})
		}
	}
}

// checkIfRange checks that the first request of the resumed run (request
// n) asked for the rest with If-Range holding the first validator, and that
// no request carried a weak one.
func checkIfRange(t *testing.T, rs *resource, n int, etag string, mod time.Time) {
	t.Helper()
	want := etag
	if want == "" {
		want = mod.UTC().Format(http.TimeFormat)
	}
	reqs := rs.requests()
	for i, h := range reqs {
		t.Logf("%d %s %s %s", i, h.Get("X-Method"), h.Get("Range"), h.Get("If-Range"))
	}
	if h := reqs[n]; !strings.HasPrefix(h.Get("Range"), "bytes=") || strings.HasPrefix(h.Get("Range"), "bytes=0-") || h.Get("If-Range") != want {
		t.Errorf("resumed with Range %q If-Range %q, want the rest with If-Range %q", h.Get("Range"), h.Get("If-Range"), want)
	}
	for _, h := range reqs {
		if strings.HasPrefix(h.Get("If-Range"), "W/") {
			t.Errorf("If-Range with a weak ETag %s", h.Get("If-Range"))
		}
	}
}

// TestCompletePartHeld: a run interrupted after the last byte (before the
// rename) leaves a partial file of the whole size. A resumed run confirms
// with HEAD that the validator still matches before calling it complete,
// and starts over when it does not (RFC 9110 §15.5.17).
func TestCompletePartHeld(t *testing.T) {
	const size = 200 << 10
	for _, tc := range []struct {
		name     string
		change   bool
		ignoreIR bool
	}{
		{"unchanged", false, false},
		{"changed", true, false},
		{"changed, server ignores If-Range", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, fresh := random(t, size), random(t, size)
			rs := &resource{ignoreIfRange: tc.ignoreIR}
			rs.set(old, `"v1"`, time.Time{})
			url, opt := startHTTPS(t, rs)
			path := filepath.Join(t.TempDir(), "fw.bin")
			interrupted(t, url, path, opt, size)
			want := old
			if tc.change {
				rs.set(fresh, `"v2"`, time.Time{})
				want = fresh
			}
			n := len(rs.requests())
			var ev events
			opt.Resume, opt.Event = true, ev.add
			if _, err := download.File(context.Background(), url, path, opt); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Fatalf("the file is not the current body")
			}
			reqs := rs.requests()[n:]
			if reqs[0].Get("X-Method") != "HEAD" {
				t.Errorf("first request of the resumed run is %s, want HEAD", reqs[0].Get("X-Method"))
			}
			if tc.change != (ev.count(download.EventRestart) == 1) || (!tc.change && len(reqs) != 1) {
				t.Errorf("%d restarts, %d requests", ev.count(download.EventRestart), len(reqs))
			}
		})
	}
}

// TestWeakETag: a weak ETag is never sent in If-Range, and a Last-Modified
// is then not used either (the client has an entity tag); without a strong
// validator a partial file is not continued without a digest to catch a
// splice.
func TestWeakETag(t *testing.T) {
	body := random(t, 300<<10)
	rs := &resource{}
	rs.set(body, `W/"weak"`, time.Now().Add(-time.Hour))
	url, opt := startHTTPS(t, rs)
	path := filepath.Join(t.TempDir(), "fw.bin")
	interrupted(t, url, path, opt, 100<<10)
	var ev events
	opt.Resume, opt.Event = true, ev.add
	if _, err := download.File(context.Background(), url, path, opt); err != nil {
		t.Fatal(err)
	}
	for _, h := range rs.requests() {
		if h.Get("If-Range") != "" || h.Get("Range") != "" {
			t.Errorf("request with Range %q If-Range %q to a server with only a weak ETag", h.Get("Range"), h.Get("If-Range"))
		}
	}
	if ev.count(download.EventRestart) != 1 {
		t.Errorf("%d restarts, want 1 (the partial file could not be continued)", ev.count(download.EventRestart))
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
		t.Fatal("wrong body")
	}
	// With a digest the partial file is continued (the digest catches a
	// splice) but still without If-Range.
	interrupted(t, url, path+"2", opt, 100<<10)
	opt.SHA256 = sum(body)
	if _, err := download.File(context.Background(), url, path+"2", opt); err != nil {
		t.Fatal(err)
	}
	// Chunks without a validator or a digest could each be of another
	// version.
	opt.SHA256, opt.Resume, opt.RangeChunk = nil, false, 64<<10
	if _, err := download.File(context.Background(), url, path+"3", opt); !errors.Is(err, download.ErrNoValidator) {
		t.Fatalf("chunked without a validator: %v, want ErrNoValidator", err)
	}
}
