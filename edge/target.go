package edge

import (
	"errors"
	"fmt"
	"strings"
)

// maxTarget bounds the request-target the edge accepts, path and query.
const maxTarget = 8 << 10

// targetError is a device's request-target the edge refuses: it is not in
// origin form, or its path could lead anywhere but the one it names below
// the origin (dot segments, encoded slashes, backslashes, NUL, empty
// segments), or it holds characters RFC 3986 does not allow there. The edge
// answers 400 and never contacts the origin.
type targetError struct {
	Target string // the request-target as received, cut to 64 bytes
	Reason string
}

func (e *targetError) Error() string {
	return fmt.Sprintf("edge: request-target %q refused: %s", e.Target, e.Reason)
}

// Is makes every targetError match errRefused.
func (e *targetError) Is(target error) bool { return target == errRefused }

// errRefused matches every request the edge refuses without asking the
// origin: a request-target it does not accept (*targetError), a Host that is
// not the edge's, a method other than GET and HEAD.
var errRefused = errors.New("edge: request refused")

// target is a device's request-target, checked: the path exactly as sent
// (percent-encoded as the device encoded it), its decoded form, and the
// query exactly as sent (without the '?').
type target struct {
	rawPath  string
	path     string
	rawQuery string
	hasQuery bool
}

// parseTarget checks a request-target (the second word of the request
// line) and splits it. It accepts the origin form only: a path starting
// with '/', whose segments are non-empty (the last may be empty: "/dir/"),
// neither "." nor ".." nor their encodings, and whose bytes are RFC 3986
// pchars or valid percent-encodings of anything but '/', '\' and control
// characters; and an optional query of RFC 3986 query characters and valid
// percent-encodings. Cost is linear in the target; no input panics.
func parseTarget(s string) (target, error) {
	refuse := func(reason string) (target, error) {
		shown := s
		if len(shown) > 64 {
			shown = shown[:64]
		}
		return target{}, &targetError{Target: shown, Reason: reason}
	}
	if len(s) > maxTarget {
		return refuse("longer than 8 KiB")
	}
	if !strings.HasPrefix(s, "/") {
		return refuse("not in origin form (absolute-form, authority-form and asterisk-form are refused)")
	}
	p, q, hasQuery := strings.Cut(s, "?")
	var dec strings.Builder
	dec.Grow(len(p))
	segStart := 0 // index in dec where the current segment starts
	endSegment := func(last bool) string {
		seg := dec.String()[segStart:]
		switch {
		case seg == "." || seg == "..":
			return "dot segment"
		case seg == "" && !last && dec.Len() > 0:
			return "empty segment"
		}
		return ""
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if i > 0 {
				if r := endSegment(false); r != "" {
					return refuse(r)
				}
			}
			dec.WriteByte('/')
			segStart = dec.Len()
		case c == '%':
			b, ok := unhex2(p, i)
			if !ok {
				return refuse("invalid percent-encoding in the path")
			}
			if b == '/' || b == '\\' || b < 0x20 || b == 0x7f {
				return refuse("encoded slash, backslash or control character in the path")
			}
			dec.WriteByte(b)
			i += 2
		case isPchar(c):
			dec.WriteByte(c)
		default:
			return refuse(fmt.Sprintf("byte %#02x not allowed in a path", c))
		}
	}
	if r := endSegment(true); r != "" {
		return refuse(r)
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%':
			if _, ok := unhex2(q, i); !ok {
				return refuse("invalid percent-encoding in the query")
			}
			i += 2
		case isPchar(c) || c == '/' || c == '?':
		default:
			return refuse(fmt.Sprintf("byte %#02x not allowed in a query", c))
		}
	}
	return target{rawPath: p, path: dec.String(), rawQuery: q, hasQuery: hasQuery}, nil
}

// isPchar reports whether c may appear unencoded in a path segment
// (RFC 3986: unreserved, sub-delims, ':' and '@').
func isPchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0
}

// unhex2 decodes the "%XX" at s[i].
func unhex2(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	h, ok1 := unhex(s[i+1])
	l, ok2 := unhex(s[i+2])
	return h<<4 | l, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
