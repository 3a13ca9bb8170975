package download

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// contentRange is a parsed Content-Range: bytes first-last/complete, or
// bytes */complete (unsatisfied: first and last are -1).
type contentRange struct{ first, last, complete int64 }

// parseContentRange parses a Content-Range header strictly: one value,
// decimal digits only, first <= last < complete.
func parseContentRange(vals []string) (contentRange, error) {
	bad := func() (contentRange, error) {
		return contentRange{}, &ProtocolError{Reason: fmt.Sprintf("bad Content-Range %q", strings.Join(vals, ", "))}
	}
	if len(vals) != 1 {
		return bad()
	}
	rest, ok := strings.CutPrefix(vals[0], "bytes ")
	if !ok {
		return bad()
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	complete, ok := digits(tot)
	if !ok {
		return bad()
	}
	if rng == "*" {
		return contentRange{-1, -1, complete}, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return bad()
	}
	first, ok1 := digits(a)
	last, ok2 := digits(b)
	if !ok1 || !ok2 || first > last || last >= complete {
		return bad()
	}
	return contentRange{first, last, complete}, nil
}

// digits parses 1 to 18 decimal digits.
func digits(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func parseHTTPTime(s string) (time.Time, error) { return http.ParseTime(s) }
