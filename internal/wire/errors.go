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

// ProtocolError reports a record or handshake message from the server that
// tlsapp's record guard cannot follow (RFC 8446, Sections 4 and 5): an
// unexpected record type or message, a message sharing a record across a key
// change, a record of the handshake flight that does not decrypt, a message
// above its size bound. It carries the alert the client sends and matches
// [recordlimit.ErrProtocol].
type ProtocolError struct {
	Desc   recordlimit.Alert
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("recordlimit: %s (%v)", e.Reason, e.Desc)
}

// Alert returns the alert the client sends for this error.
func (e *ProtocolError) Alert() recordlimit.Alert { return e.Desc }

// Is reports whether target is recordlimit.ErrProtocol.
func (e *ProtocolError) Is(target error) bool { return target == recordlimit.ErrProtocol }
