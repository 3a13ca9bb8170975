package download_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
	"github.com/tlsapp/tlsapp/internal/buildinfo"
)

// TestRequestHeader: Options.Header reaches the server on every request of
// a download (the first, the Range requests after a cut, the HEAD that
// confirms a whole partial file), and requests name the project and its
// version as User-Agent unless Options.Header gives one (issue 17, item 6:
// a bearer token needed a RoundTripper of its own, and the User-Agent was
// Go-http-client/1.1).
func TestRequestHeader(t *testing.T) {
	body := random(t, 256<<10)
	rs := &resource{}
	rs.set(body, `"h1"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	h := http.Header{}
	h.Set("Authorization", "Bearer t0ken")
	h.Add("X-Device-Id", "0042")
	h.Add("X-Device-Id", "imei:35-209900-176148-1")
	path := filepath.Join(t.TempDir(), "fw.bin")
	opt.Header = h
	interrupted(t, url, path, opt, 100<<10) // GET
	opt.Resume, opt.RangeChunk = true, 64<<10
	if _, err := download.File(context.Background(), url, path, opt); err != nil { // GET with Range
		t.Fatal(err)
	}
	interrupted(t, url, path+"2", opt, int64(len(body)))                               // all held, not renamed
	if _, err := download.File(context.Background(), url, path+"2", opt); err != nil { // HEAD
		t.Fatal(err)
	}
	reqs := rs.requests()
	methods := map[string]bool{}
	ua := "tlsapp/" + buildinfo.Version()
	for i, r := range reqs {
		methods[r.Get("X-Method")+" "+strings.SplitN(r.Get("Range"), "=", 2)[0]] = true
		if r.Get("Authorization") != "Bearer t0ken" || strings.Join(r.Values("X-Device-Id"), ",") != "0042,imei:35-209900-176148-1" {
			t.Errorf("request %d (%s Range %q): Authorization %q, X-Device-Id %q", i, r.Get("X-Method"), r.Get("Range"), r.Get("Authorization"), r.Values("X-Device-Id"))
		}
		if r.Get("User-Agent") != ua {
			t.Errorf("request %d: User-Agent %q, want %q", i, r.Get("User-Agent"), ua)
		}
	}
	if !methods["GET "] || !methods["GET bytes"] || !methods["HEAD "] {
		t.Errorf("requests seen: %v; want a GET, a ranged GET and a HEAD", methods)
	}

	// A User-Agent of the caller's own replaces the default.
	n := len(reqs)
	opt.Header = http.Header{"User-Agent": {"fota-agent/7"}}
	opt.Resume, opt.RangeChunk = false, 0
	if _, err := download.File(context.Background(), url, path+"3", opt); err != nil {
		t.Fatal(err)
	}
	if got := rs.requests()[n].Values("User-Agent"); len(got) != 1 || got[0] != "fota-agent/7" {
		t.Errorf("User-Agent %q, want the caller's", got)
	}
}

// TestRequestHeaderRefused: header fields the download sets itself (Range
// and If-Range, which it resumes with; Accept-Encoding, which must stay
// identity for byte offsets to hold; conditional and framing fields), and
// fields that are not HTTP syntax, are refused with an error wrapping
// ErrHeader before any request is made.
func TestRequestHeaderRefused(t *testing.T) {
	rs := &resource{}
	rs.set([]byte("body"), `"h"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	for _, h := range []http.Header{
		{"Range": {"bytes=0-"}},
		{"If-Range": {`"h"`}},
		{"range": {"bytes=0-"}}, // not canonical, set directly
		{"Accept-Encoding": {"gzip"}},
		{"Host": {"example.com"}},
		{"If-None-Match": {`"h"`}},
		{"If-Modified-Since": {"Fri, 02 Jan 2026 03:04:05 GMT"}},
		{"Content-Length": {"0"}},
		{"Transfer-Encoding": {"chunked"}},
		{"Connection": {"close"}},
		{"Bad Name": {"x"}},
		{"": {"x"}},
		{"X-Split": {"a\r\nInjected: 1"}},
		{"X-Nul": {"a\x00"}},
	} {
		_, err := download.File(context.Background(), url, filepath.Join(t.TempDir(), "fw.bin"), download.Options{Dialer: opt.Dialer, Header: h})
		if !errors.Is(err, download.ErrHeader) {
			t.Errorf("%q: err %v, want ErrHeader", h, err)
		}
		if err := download.CheckHeader(h); !errors.Is(err, download.ErrHeader) {
			t.Errorf("CheckHeader(%q): %v", h, err)
		}
	}
	if n := len(rs.requests()); n != 0 {
		t.Errorf("%d requests made with refused header fields", n)
	}
	if err := download.CheckHeader(http.Header{"X-Ok": {"a\tb c", ""}, "Cookie": {"k=v"}}); err != nil {
		t.Errorf("CheckHeader of good fields: %v", err)
	}
}

// TestCheckHeaderBounds checks each edge of a field name's characters
// (RFC 9110 tchar: letters, digits and !#$%&'*+-.^_`|~) and of a value's
// (no control character but tab): the character at each end of a range is
// taken, the one just outside refused.
func TestCheckHeaderBounds(t *testing.T) {
	for _, name := range []string{"a", "z", "A", "Z", "0", "9", "!", "~", "`", "^", "|", "X-Ok_1.2"} {
		if err := download.CheckHeader(http.Header{name: {"v"}}); err != nil {
			t.Errorf("field name %q refused: %v", name, err)
		}
	}
	for _, name := range []string{"@", "[", "{", "/", ":", "\x7f", "\x80", "\xff", " ", "(", "\"", "é"} {
		if err := download.CheckHeader(http.Header{name: {"v"}}); !errors.Is(err, download.ErrHeader) {
			t.Errorf("field name %q: %v, want ErrHeader", name, err)
		}
	}
	for _, v := range []string{"\t", " ", "~", "\x80", "é", ""} {
		if err := download.CheckHeader(http.Header{"X-V": {v}}); err != nil {
			t.Errorf("value %q refused: %v", v, err)
		}
	}
	for _, v := range []string{"\x1f", "\x7f", "\x00", "\n", "\r", "a\x0bb"} {
		if err := download.CheckHeader(http.Header{"X-V": {v}}); !errors.Is(err, download.ErrHeader) {
			t.Errorf("value %q: %v, want ErrHeader", v, err)
		}
	}
}
