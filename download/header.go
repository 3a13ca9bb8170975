package download

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tlsapp/tlsapp/internal/buildinfo"
)

// ownedFields are the request header fields the download sets or must not
// have set: Range and If-Range, which it resumes with; Accept-Encoding,
// which stays identity so that byte offsets and digests are of the
// representation; the conditional fields, whose 304 and 412 answers would
// stand for the body; and the fields of the message's framing and
// connection, which net/http writes (a Host field it would ignore).
var ownedFields = map[string]bool{
	"Range": true, "If-Range": true, "Accept-Encoding": true,
	"If-Match": true, "If-None-Match": true, "If-Modified-Since": true, "If-Unmodified-Since": true,
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Te": true, "Trailer": true,
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Upgrade": true,
}

// CheckHeader checks header fields for Options.Header: each name an HTTP
// token (RFC 9110 §5.1) and not one the download sets itself (Range,
// If-Range, Accept-Encoding, the conditional If-* fields, Host and the
// fields of framing and connection: Content-Length, Transfer-Encoding, TE,
// Trailer, Connection, Keep-Alive, Proxy-Connection, Upgrade), each value
// free of control characters other than tab (so no CR or LF that could end
// the field early). Errors wrap ErrHeader.
func CheckHeader(h http.Header) error {
	for name, vals := range h {
		if !token(name) {
			return fmt.Errorf("%w: %q is not a field name", ErrHeader, name)
		}
		if ownedFields[http.CanonicalHeaderKey(name)] {
			return fmt.Errorf("%w: %s is set by the download itself", ErrHeader, http.CanonicalHeaderKey(name))
		}
		for _, v := range vals {
			if i := strings.IndexFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }); i >= 0 {
				return fmt.Errorf("%w: the value of %s holds the control character %#02x", ErrHeader, name, v[i])
			}
		}
	}
	return nil
}

// token reports whether s is an RFC 9110 token: one or more tchar.
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// userAgent is the User-Agent the download sends unless Options.Header
// gives one: the project and the version of this module.
var userAgent = "tlsapp/" + buildinfo.Version()
