package httpscript

import (
	"net/http"
	"strconv"
	"strings"
)

// Resource is one representation answered as a correct server answers it
// (RFC 9110 §14 and §13.1.5), so that a test can make one answer lie and
// keep the others true. Answer gives a HEAD or GET its 200 with
// Content-Length, a single satisfiable Range its 206 (unless an If-Range
// that does not match Header's ETag, or Last-Modified when there is no
// ETag, asks for the whole body), and a Range that starts at or past the
// end a 416 with Content-Range bytes */size. Every answer carries Header.
type Resource struct {
	Body   []byte
	Header [][2]string // the validator fields (ETag, Last-Modified, Date)
}

// Answer returns the true response to r.
func (rs Resource) Answer(r Request) Response {
	size := int64(len(rs.Body))
	h := rs.Header[:len(rs.Header):len(rs.Header)] // each append copies
	whole := Response{Status: http.StatusOK, Header: append(h, [2]string{"Content-Length", strconv.FormatInt(size, 10)}), Body: rs.Body}
	rng := r.Header.Get("Range")
	if rng == "" || r.Method != http.MethodGet || !rs.ifRange(r.Header.Values("If-Range")) {
		return whole
	}
	first, last, ok := parseRange(rng)
	switch {
	case !ok:
		return whole
	case first >= size:
		return Response{Status: http.StatusRequestedRangeNotSatisfiable,
			Header: append(h, [2]string{"Content-Range", "bytes */" + strconv.FormatInt(size, 10)}, [2]string{"Content-Length", "0"})}
	case last < 0 || last >= size:
		last = size - 1
	}
	return Response{Status: http.StatusPartialContent,
		Header: append(h,
			[2]string{"Content-Range", "bytes " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) + "/" + strconv.FormatInt(size, 10)},
			[2]string{"Content-Length", strconv.FormatInt(last-first+1, 10)}),
		Body: rs.Body[first : last+1]}
}

// ifRange reports whether an If-Range (absent, or the one value) lets the
// Range apply: it must be the resource's ETag, or when it has none, its
// Last-Modified as sent.
func (rs Resource) ifRange(vals []string) bool {
	if len(vals) == 0 {
		return true
	}
	if len(vals) != 1 {
		return false
	}
	etag, lm := rs.field("ETag"), rs.field("Last-Modified")
	if etag != "" {
		return vals[0] == etag
	}
	return lm != "" && vals[0] == lm
}

func (rs Resource) field(name string) string {
	for _, f := range rs.Header {
		if http.CanonicalHeaderKey(f[0]) == http.CanonicalHeaderKey(name) {
			return f[1]
		}
	}
	return ""
}

// parseRange parses bytes=first-last or bytes=first- (last -1).
func parseRange(s string) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(s, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash || a == "" {
		return 0, 0, false
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false
	}
	if b == "" {
		return first, -1, true
	}
	last, err = strconv.ParseInt(b, 10, 64)
	if err != nil || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// Set replaces the values of the header field name with value (adding it
// when absent), in the place of its first value: a lie in one field.
func (r *Response) Set(name, value string) {
	out := r.Header[:0:0]
	done := false
	for _, f := range r.Header {
		if http.CanonicalHeaderKey(f[0]) != http.CanonicalHeaderKey(name) {
			out = append(out, f)
		} else if !done {
			out, done = append(out, [2]string{f[0], value}), true
		}
	}
	if !done {
		out = append(out, [2]string{name, value})
	}
	r.Header = out
}

// Del removes the header field name.
func (r *Response) Del(name string) {
	out := r.Header[:0:0]
	for _, f := range r.Header {
		if http.CanonicalHeaderKey(f[0]) != http.CanonicalHeaderKey(name) {
			out = append(out, f)
		}
	}
	r.Header = out
}

// Lie answers as rs does, save that the response to request n (counted
// from 0) first goes through lies[n], which may change any part of it.
func Lie(rs Resource, lies map[int]func(Request, *Response)) Script {
	return func(r Request) Response {
		resp := rs.Answer(r)
		if f := lies[r.N]; f != nil {
			f(r, &resp)
		}
		return resp
	}
}
