package edge

import (
	"bytes"
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
)

// FuzzParseTarget: parseTarget never panics; what it accepts stays below
// the origin's base path (no dot segment, no empty segment, no encoded
// slash, its decoded path is clean), and reaches the origin byte for byte
// (net/url keeps the device's encoding).
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/", "/fw/image.bin", "/a%20b/c;v=1?X-Amz-Signature=ab%2Fcd&e=", "/../x", "/%2e%2E/x",
		"/a%2fb", "//x", "/a/", "https://evil/x", "*", "/a?b?c", "/%zz", "/a\\b", "/?", "/%00", "/.%2e/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := parseTarget(s)
		if err != nil {
			return
		}
		joined := tg.rawPath
		if tg.hasQuery {
			joined += "?" + tg.rawQuery
		}
		if joined != s {
			t.Fatalf("%q split into %q and %q", s, tg.rawPath, tg.rawQuery)
		}
		clean := path.Clean(tg.path)
		if strings.HasSuffix(tg.path, "/") && tg.path != "/" {
			clean += "/"
		}
		if clean != tg.path || !strings.HasPrefix(tg.path, "/") {
			t.Fatalf("%q: decoded path %q is not clean", s, tg.path)
		}
		for _, bad := range []string{"%2f", "%2F", "%5c", "%5C", "\\"} {
			if strings.Contains(tg.rawPath, bad) {
				t.Fatalf("%q accepted with %q", s, bad)
			}
		}
		u := url.URL{Scheme: "https", Host: "origin", Path: "/base" + tg.path, RawPath: "/base" + tg.rawPath, RawQuery: tg.rawQuery}
		back, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if back.EscapedPath() != "/base"+tg.rawPath || back.RawQuery != tg.rawQuery || back.Host != "origin" {
			t.Fatalf("%q reaches the origin as %q", s, back.RequestURI())
		}
	})
}

// FuzzDecodeHeader: an object file's header and trailer never panic the
// index rebuild, and what decodes encodes back to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	good, _ := encodeHeader(meta{key: "/fw/image.bin", etag: `"v1"`, modified: time.Unix(1700000000, 0).UTC(),
		created: time.Unix(0, 1700000000123456789), ctype: "application/octet-stream"})
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(append(good, encodeTrailer(5, [32]byte{1})...))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 't'})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, n, err := decodeHeader(data)
		if err == nil {
			again, err := encodeHeader(m)
			if err != nil || !bytes.Equal(again, data[:n]) {
				t.Fatalf("%x decodes to %+v, which encodes to %x (%v)", data[:n], m, again, err)
			}
		}
		if len(data) >= trailerLen {
			size, sum, err := decodeTrailer(data[len(data)-trailerLen:])
			if err == nil && !bytes.Equal(encodeTrailer(size, sum), data[len(data)-trailerLen:]) {
				t.Fatalf("trailer %x does not round-trip", data[len(data)-trailerLen:])
			}
		}
	})
}

// TestParseTarget: the table of what the edge accepts and refuses.
func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		path string
	}{
		{"/", true, "/"},
		{"/fw/image.bin", true, "/fw/image.bin"},
		{"/fw/", true, "/fw/"},
		{"/a%20b", true, "/a b"},
		{"/a%2e", true, "/a."},
		{"/...", true, "/..."},
		{"/fw?sig=a%2Fb&x", true, "/fw"},
		{"/fw?", true, "/fw"},
		{"", false, ""},
		{"fw", false, ""},
		{"*", false, ""},
		{"/..", false, ""},
		{"/../", false, ""},
		{"/a/..", false, ""},
		{"/%2e", false, ""},
		{"/%2E%2e/", false, ""},
		{"/a//b", false, ""},
		{"/a%2Fb", false, ""},
		{"/a%5Cb", false, ""},
		{"/a%00", false, ""},
		{"/a%7f", false, ""},
		{"/a%", false, ""},
		{"/a%4", false, ""},
		{"/a b", false, ""},
		{"/a\"b", false, ""},
		{"/a?b c", false, ""},
		{"/a#b", false, ""},
		{"/\xff", false, ""},
		{"/" + strings.Repeat("a", maxTarget), false, ""},
	} {
		got, err := parseTarget(tc.in)
		if (err == nil) != tc.ok || tc.ok && got.path != tc.path {
			t.Errorf("parseTarget(%q) = %+v, %v; want ok %v, path %q", tc.in, got, err, tc.ok, tc.path)
		}
		if err != nil && !errors.Is(err, errRefused) {
			t.Errorf("%q: %v does not match errRefused", tc.in, err)
		}
	}
}
