package download

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in []string
		cr contentRange
		ok bool
	}{
		{[]string{"bytes 0-4095/262144"}, contentRange{0, 4095, 262144}, true},
		{[]string{"bytes */100"}, contentRange{-1, -1, 100}, true},
		{[]string{"bytes 4096-8191/*"}, contentRange{}, false}, // the size must be known
		{[]string{"bytes 10-5/100"}, contentRange{}, false},
		{[]string{"bytes 0-100/100"}, contentRange{}, false}, // last beyond the size
		{[]string{"bytes +1-5/100"}, contentRange{}, false},
		{[]string{"bytes 1-5/ 100"}, contentRange{}, false},
		{[]string{"bytes 0-1/2", "bytes 0-1/2"}, contentRange{}, false},
		{[]string{"bytes 0-1/9999999999999999999"}, contentRange{}, false},
		{[]string{"items 0-1/2"}, contentRange{}, false},
		{[]string{""}, contentRange{}, false},
		{nil, contentRange{}, false},
	} {
		cr, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || tc.ok && cr != tc.cr {
			t.Errorf("%q: %+v %v", tc.in, cr, err)
		}
		var pe *ProtocolError
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%q: %T, want *ProtocolError", tc.in, err)
		}
	}
}

func TestValidatorOf(t *testing.T) {
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hd := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	f := func(t time.Time) string { return t.Format(http.TimeFormat) }
	for _, tc := range []struct {
		name string
		h    http.Header
		want validator
	}{
		{"strong etag", hd("ETag", `"abc"`), validator{ETag: `"abc"`}},
		{"weak etag", hd("ETag", `W/"abc"`), validator{}},
		{"weak etag with a date", hd("ETag", `W/"abc"`, "Last-Modified", f(date.Add(-time.Hour)), "Date", f(date)), validator{}},
		{"unquoted etag", hd("ETag", `abc`), validator{}},
		{"two etags", hd("ETag", `"a"`, "ETag", `"b"`), validator{}},
		{"strong date", hd("Last-Modified", f(date.Add(-time.Second)), "Date", f(date)), validator{LastModified: f(date.Add(-time.Second))}},
		{"date too recent", hd("Last-Modified", f(date), "Date", f(date)), validator{}},
		{"no Date", hd("Last-Modified", f(date)), validator{}},
		{"bad date", hd("Last-Modified", "yesterday", "Date", f(date)), validator{}},
		{"etag first", hd("ETag", `"x"`, "Last-Modified", f(date.Add(-time.Hour)), "Date", f(date)), validator{ETag: `"x"`}},
	} {
		if got := validatorOf(tc.h); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseSidecar(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"format":1,"url":"https://h/fw","etag":"\"a\"","size":10}`, true},
		{`{"format":1,"url":"https://h/fw","last_modified":"Fri, 02 Jan 2026 03:04:05 GMT","size":-1}`, true},
		{`{"format":1,"url":"https://h/fw","size":10}`, true},
		{`{"format":1,"url":"https://h/fw?sig=1","resume_key":"fw-1.2.3","etag":"\"a\"","size":10}`, true},
		{`{"format":1,"url":"https://h/fw","resume_key":"` + strings.Repeat("k", maxResumeKey+1) + `","size":10}`, false},
		{`{"format":2,"url":"https://h/fw","size":10}`, false},
		{`{"format":1,"url":"https://h/fw","size":10,"extra":1}`, false},
		{`{"format":1,"url":"https://h/fw","size":10} {}`, false},
		{`{"format":1,"url":"https://h/fw","size":-2}`, false},
		{`{"format":1,"url":"/fw","size":1}`, false},
		{`{"format":1,"url":"https://h/fw","etag":"W/\"a\"","size":1}`, false},
		{`{"format":1,"url":"https://h/fw","etag":"\"a\"","last_modified":"Fri, 02 Jan 2026 03:04:05 GMT","size":1}`, false},
		{`{"format":1,"url":"https://h/fw","last_modified":"soon","size":1}`, false},
		{`{"format":1,"url":"https://h/fw","size":1}` + strings.Repeat(" ", maxSidecar), false},
		{sidecarOfLen(maxSidecar), true},
		{sidecarOfLen(maxSidecar + 1), false},
		{``, false},
		{`[]`, false},
	} {
		_, err := parseSidecar([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%.60q: %v", tc.in, err)
		}
		if err != nil && !errors.Is(err, ErrSidecar) {
			t.Errorf("%.60q: %v is not ErrSidecar", tc.in, err)
		}
	}
}

func TestSameResource(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://h/fw.bin?X-Amz-Signature=a", "https://h/fw.bin?X-Amz-Signature=b", true},
		{"https://h/fw.bin", "https://h/fw.bin?token=1#frag", true},
		{"https://H/fw.bin", "https://h:443/fw.bin", true},
		{"https://h/fw.bin", "https://h/FW.bin", false},
		{"https://h/fw.bin", "https://h/fw.bin/", false},
		{"https://h/a%2Fb", "https://h/a/b", false},
		{"https://h/fw.bin", "https://h:8443/fw.bin", false},
		{"https://h/fw.bin", "https://g/fw.bin", false},
		{"https://h/fw.bin", "http://h/fw.bin", false},
		{"https://u@h/fw.bin", "https://h/fw.bin", false},
		{"https://h/fw.bin", "%zz", false},
	} {
		if got := sameResource(tc.a, tc.b); got != tc.same {
			t.Errorf("sameResource(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// sidecarOfLen is a valid sidecar of exactly n bytes, padded with spaces
// inside its object.
func sidecarOfLen(n int) string {
	s := `{"format":1,"url":"https://h/fw","size":1`
	return s + strings.Repeat(" ", n-len(s)-1) + "}"
}

// TestReadSidecarBound: a sidecar file of maxSidecar bytes is read whole,
// one of maxSidecar+1 is refused.
func TestReadSidecarBound(t *testing.T) {
	for _, n := range []int{maxSidecar, maxSidecar + 1} {
		p := filepath.Join(t.TempDir(), "fw.bin.part.meta")
		if err := os.WriteFile(p, []byte(sidecarOfLen(n)), 0o600); err != nil {
			t.Fatal(err)
		}
		sc, err := readSidecar(p)
		if ok := n <= maxSidecar; ok != (err == nil) || ok && (sc == nil || sc.Size != 1) || !ok && !errors.Is(err, ErrSidecar) {
			t.Errorf("%d bytes: %+v, %v", n, sc, err)
		}
	}
}
