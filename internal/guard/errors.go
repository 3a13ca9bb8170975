package guard

import (
	"errors"
	"fmt"

	"github.com/tlsapp/tlsapp/recordlimit"
)

// Error is an error of the guard's own: a peer's record or handshake
// message it cannot follow or refuses, or a secret it needs and does not
// have. Desc is the alert that ends the connection (recordlimit.AlertOf
// finds it through the Alert method); Err, when not nil, is the sentinel or
// cause it wraps, so that errors.Is matches recordlimit.ErrProtocol,
// ErrMissingSecret and the others on every path.
type Error struct {
	Desc   recordlimit.Alert
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Reason == "" && e.Err != nil {
		return fmt.Sprintf("guard: %v (%v)", e.Err, e.Desc)
	}
	return fmt.Sprintf("guard: %s (%v)", e.Reason, e.Desc)
}

// Alert returns the alert the guard (or the stack it signals) sends.
func (e *Error) Alert() recordlimit.Alert { return e.Desc }

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// protocolErr returns an Error matching recordlimit.ErrProtocol: a peer's
// record or handshake message out of its place, across a key change, above
// its bound, or malformed.
func protocolErr(a recordlimit.Alert, format string, args ...any) *Error {
	return &Error{Desc: a, Reason: fmt.Sprintf(format, args...), Err: recordlimit.ErrProtocol}
}

func unexpected(format string, args ...any) *Error {
	return protocolErr(recordlimit.AlertUnexpectedMessage, format, args...)
}

func tooLarge(typ uint8, n, limit int) *Error {
	return protocolErr(recordlimit.AlertDecodeError, "handshake message %d of %d bytes is above the %d-byte bound", typ, n, limit)
}

// missingSecret is the error of a TLS 1.3 record the guard must read or
// rewrite without the handshake secret the stack should have logged.
func missingSecret(what string) *Error {
	return &Error{Desc: recordlimit.AlertInternalError, Reason: "no handshake secret for " + what, Err: recordlimit.ErrMissingSecret}
}

// internalErr wraps a failure of the guard's own machinery (a key it
// cannot derive) that ends the connection with internal_error.
func internalErr(err error) *Error {
	return &Error{Desc: recordlimit.AlertInternalError, Err: err}
}

// errOpen is the error of a protected record that does not open.
var errOpen = protocolErr(recordlimit.AlertBadRecordMAC, "record does not decrypt")

// errPartialRecord is returned when the stack writes something that is not a
// sequence of whole records; the stacks this package serves never do.
var errPartialRecord = &Error{Desc: recordlimit.AlertInternalError, Reason: "the TLS stack wrote something that is not a sequence of whole records"}

// malformed is the guard's error for a ServerHello or EncryptedExtensions
// that the wire codecs cannot parse (a malformed message or extension list,
// an extension twice): decode_error, matching recordlimit.ErrProtocol. The
// exception is one of the record-size extensions twice in the server's
// answer, which stays the *recordlimit.NegotiationError that names it:
// recordlimit.NegotiationError is kept for answers to those extensions.
func malformed(msg string, err error) error {
	var ne *recordlimit.NegotiationError
	if errors.As(err, &ne) && (ne.Extension == recordlimit.ExtMaxFragmentLength || ne.Extension == recordlimit.ExtRecordSizeLimit) {
		return err
	}
	return protocolErr(recordlimit.AlertDecodeError, "%s: %s", msg, reasonOf(err))
}

// reasonOf is what a wire codec's error says, without its prefix.
func reasonOf(err error) string {
	var ne *recordlimit.NegotiationError
	if errors.As(err, &ne) {
		return ne.Reason
	}
	return err.Error()
}
