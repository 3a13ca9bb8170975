package download

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/internal/httprange"
)

// validator is the strong validator of a representation: an entity tag, or
// else a Last-Modified date; at most one is set.
type validator struct {
	ETag         string // with its quotes
	LastModified string // an HTTP-date, as the server sent it
}

func (v validator) none() bool { return v.ETag == "" && v.LastModified == "" }

// ifRange is the If-Range value for v.
func (v validator) ifRange() string {
	if v.ETag != "" {
		return v.ETag
	}
	return v.LastModified
}

func (v validator) String() string {
	switch {
	case v.ETag != "":
		return "ETag " + v.ETag
	case v.LastModified != "":
		return "Last-Modified " + v.LastModified
	}
	return "no strong validator"
}

// validatorOf returns the strong validator of a response (RFC 9110
// §13.1.5): its ETag unless weak; when there is no ETag at all, its
// Last-Modified if that is at least a second before its Date. A weak ETag
// gives none: a client that has an entity tag may not send a date.
func validatorOf(h http.Header) validator {
	if et := h.Values("ETag"); len(et) > 0 {
		if len(et) == 1 && strongETag(et[0]) {
			return validator{ETag: et[0]}
		}
		return validator{}
	}
	lm, date := h.Get("Last-Modified"), h.Get("Date")
	if lm == "" || date == "" {
		return validator{}
	}
	lmt, err1 := http.ParseTime(lm)
	dt, err2 := http.ParseTime(date)
	if err1 != nil || err2 != nil || dt.Sub(lmt) < time.Second {
		return validator{}
	}
	return validator{LastModified: lm}
}

// strongETag reports whether s is an opaque-tag in quotes without W/:
// DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text.
func strongETag(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}

// contradicts reports whether a response that carries its own validator
// shows a representation other than v. A response without one says
// nothing either way.
func (v validator) contradicts(h http.Header) (bool, string) {
	got := validatorOf(h)
	switch {
	case v.ETag != "" && len(h.Values("ETag")) > 0 && got.ETag != v.ETag:
		return true, fmt.Sprintf("ETag %s became %s", v.ETag, strings.Join(h.Values("ETag"), ","))
	case v.LastModified != "" && h.Get("Last-Modified") != "" && h.Get("Last-Modified") != v.LastModified:
		return true, fmt.Sprintf("Last-Modified %s became %s", v.LastModified, h.Get("Last-Modified"))
	}
	return false, ""
}

// shownBy reports whether a response shows v itself: exactly one ETag,
// v's, or for a date, exactly one Last-Modified at the same time.
func (v validator) shownBy(h http.Header) bool {
	if v.ETag != "" {
		et := h.Values("ETag")
		return len(et) == 1 && et[0] == v.ETag
	}
	lm := h.Values("Last-Modified")
	if v.LastModified == "" || len(lm) != 1 {
		return false
	}
	got, err1 := http.ParseTime(lm[0])
	want, err2 := http.ParseTime(v.LastModified)
	return err1 == nil && err2 == nil && got.Equal(want)
}

// field names the header field that carries v.
func (v validator) field() string {
	if v.ETag != "" {
		return "ETag"
	}
	return "Last-Modified"
}

// contentRange is a parsed Content-Range: bytes first-last/complete, or
// bytes */complete (unsatisfied: first and last are -1).
type contentRange struct{ first, last, complete int64 }

// parseContentRange parses a Content-Range header strictly: one value,
// decimal digits only, first <= last < complete.
func parseContentRange(vals []string) (contentRange, error) {
	if len(vals) == 1 {
		if r, ok := httprange.Parse(vals[0]); ok {
			return contentRange{r.First, r.Last, r.Complete}, nil
		}
	}
	return contentRange{}, &ProtocolError{Reason: fmt.Sprintf("bad Content-Range %q", strings.Join(vals, ", "))}
}

func parseHTTPTime(s string) (time.Time, error) { return http.ParseTime(s) }
