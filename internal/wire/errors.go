package wire

import (
	"fmt"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// negErr returns a NegotiationError about extension ext (0 if about none or
// both) carrying alert a.
func negErr(ext uint16, a recordlimit.Alert, format string, args ...any) *recordlimit.NegotiationError {
	return &recordlimit.NegotiationError{Extension: ext, Desc: a, Reason: fmt.Sprintf(format, args...)}
}
