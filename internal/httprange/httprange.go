// Package httprange parses the HTTP Content-Range header (RFC 9110,
// section 14.4) for the packages that ask for byte ranges: download, which
// checks every 206 and 416 it is given, and probe, which measures them.
package httprange

import "strconv"

// Range is a parsed Content-Range: bytes First-Last/Complete, or, for an
// unsatisfied range (bytes */Complete), First and Last -1.
type Range struct{ First, Last, Complete int64 }

// Parse parses one Content-Range value strictly: "bytes ", decimal digits
// only (at most 18 of them), First <= Last < Complete, and a known
// Complete.
func Parse(v string) (Range, bool) {
	rest, ok := cutPrefix(v, "bytes ")
	if !ok {
		return Range{}, false
	}
	rng, tot, ok := cut(rest, '/')
	if !ok {
		return Range{}, false
	}
	complete, ok := digits(tot)
	if !ok {
		return Range{}, false
	}
	if rng == "*" {
		return Range{-1, -1, complete}, true
	}
	a, b, ok := cut(rng, '-')
	if !ok {
		return Range{}, false
	}
	first, ok1 := digits(a)
	last, ok2 := digits(b)
	if !ok1 || !ok2 || first > last || last >= complete {
		return Range{}, false
	}
	return Range{first, last, complete}, true
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return s, false
	}
	return s[len(p):], true
}

func cut(s string, sep byte) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
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
