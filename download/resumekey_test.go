package download_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// TestResumeNewQuery interrupts a download from a pre-signed URL and
// resumes it from one whose query (signature, expiry) changed, as FOTA
// servers hand out (issue 17, item 5: the resumed run started over from
// byte 0). It continues from the offset, asking with If-Range and the old
// validator, when the object is the same; it starts over, and gives the new
// object, when the object changed (or fails with a *ChangedError when it may
// not start over); another path is another resource, and Options.ResumeKey
// names the resource whatever the URL.
func TestResumeNewQuery(t *testing.T) {
	const size = 600 << 10
	const stop = 300 << 10
	for _, tc := range []struct {
		name        string
		first, next string // the URLs' paths and queries
		key1, key2  string // Options.ResumeKey of each run
		change      bool
		noRestart   bool
		resumes     bool
	}{
		{name: "new query", first: "/fw.bin?X-Amz-Signature=aaa&X-Amz-Expires=60", next: "/fw.bin?X-Amz-Signature=bbb&X-Amz-Expires=60", resumes: true},
		{name: "query added", first: "/fw.bin", next: "/fw.bin?token=1", resumes: true},
		{name: "new query, object changed", first: "/fw.bin?sig=a", next: "/fw.bin?sig=b", change: true},
		{name: "new query, object changed, no restart", first: "/fw.bin?sig=a", next: "/fw.bin?sig=b", change: true, noRestart: true},
		{name: "other path", first: "/fw.bin?sig=a", next: "/other/fw.bin?sig=a"},
		{name: "same key, other path", first: "/fw.bin?sig=a", next: "/mirror/fw.bin", key1: "fw-1.2.3", key2: "fw-1.2.3", resumes: true},
		{name: "same key, object changed", first: "/fw.bin?sig=a", next: "/mirror/fw.bin", key1: "fw-1.2.3", key2: "fw-1.2.3", change: true},
		{name: "other key, same URL", first: "/fw.bin", next: "/fw.bin", key1: "fw-1.2.3", key2: "fw-1.2.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, fresh := random(t, size), random(t, size)
			rs := &resource{}
			rs.set(old, `"v1"`, time.Time{})
			base, opt := startHTTPS(t, rs)
			base = strings.TrimSuffix(base, "/fw.bin")
			path := filepath.Join(t.TempDir(), "fw.bin")
			opt.ResumeKey = tc.key1
			interrupted(t, base+tc.first, path, opt, stop)
			want := old
			if tc.change {
				rs.set(fresh, `"v2"`, time.Time{})
				want = fresh
			}
			n := len(rs.requests())
			var ev events
			opt.Resume, opt.NoRestart, opt.ResumeKey, opt.Event = true, tc.noRestart, tc.key2, ev.add
			res, err := download.File(context.Background(), base+tc.next, path, opt)
			reqs := rs.requests()[n:]
			for i, h := range reqs {
				t.Logf("%d %s %s Range %q If-Range %q", i, h.Get("X-Method"), h.Get("X-Target"), h.Get("Range"), h.Get("If-Range"))
			}
			if first := reqs[0]; tc.resumes || tc.change && tc.key2 == tc.key1 { // continued
				// Continued: the rest, asked for with the old validator.
				if first.Get("X-Target") != tc.next || first.Get("Range") == "" || strings.HasPrefix(first.Get("Range"), "bytes=0-") || first.Get("If-Range") != `"v1"` {
					t.Errorf("resumed with %s Range %q If-Range %q; want the rest of %s with If-Range \"v1\"", first.Get("X-Target"), first.Get("Range"), first.Get("If-Range"), tc.next)
				}
			} else if first.Get("Range") != "" {
				t.Errorf("the partial file of another resource was continued: Range %q", first.Get("Range"))
			}
			if tc.noRestart {
				var ce *download.ChangedError
				if !errors.As(err, &ce) {
					t.Fatalf("err %v, want a *ChangedError", err)
				}
				if _, err := os.Stat(path); err == nil {
					t.Fatal("a file was renamed into place")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
				t.Fatalf("the file is not the current object")
			}
			continued := tc.resumes || tc.change && tc.key2 == tc.key1
			restarts := 1 // the partial file dropped, or the change found
			if tc.resumes {
				restarts = 0
			}
			if continued != (res.ResumedFrom >= stop) || ev.count(download.EventRestart) != restarts {
				t.Errorf("resumed from %d with %d restarts; want continued %v, %d restarts", res.ResumedFrom, ev.count(download.EventRestart), continued, restarts)
			}
		})
	}
}
