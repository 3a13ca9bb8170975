package download

import (
	"strings"
	"testing"
)

// FuzzParseSidecar: any bytes parse without panic, and a sidecar accepted
// satisfies the rules parseSidecar promises and survives a rewrite.
func FuzzParseSidecar(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSidecar(b)
		if err != nil {
			return
		}
		if s.Format != sidecarFormat || s.Size < -1 || (s.ETag != "" && s.LastModified != "") || (s.ETag != "" && !strongETag(s.ETag)) || len(s.Key) > maxResumeKey {
			t.Fatalf("accepted %+v", s)
		}
		path := t.TempDir() + "/meta"
		if err := writeSidecar(path, s); err != nil {
			t.Fatal(err)
		}
		back, err := readSidecar(path)
		if err != nil || *back != *s {
			t.Fatalf("rewritten sidecar reads back as %+v, %v; want %+v", back, err, s)
		}
	})
}

// FuzzParseContentRange: any header value parses without panic, and an
// accepted range is ordered and within its complete length.
func FuzzParseContentRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		cr, err := parseContentRange(strings.Split(v, "\n"))
		if err != nil {
			return
		}
		unsatisfied := cr.first == -1 && cr.last == -1
		if cr.complete < 0 || !unsatisfied && (cr.first < 0 || cr.first > cr.last || cr.last >= cr.complete) {
			t.Fatalf("%q accepted as %+v", v, cr)
		}
	})
}
