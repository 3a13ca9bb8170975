package recordlimit

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every typed error of this package matches one of them with
// errors.Is.
var (
	// ErrRecordOverflow matches a received record longer than the limit in force.
	ErrRecordOverflow = errors.New("recordlimit: record overflow")
	// ErrBadRecord matches malformed record framing.
	ErrBadRecord = errors.New("recordlimit: malformed record")
	// ErrNegotiation matches a server answer that breaks RFC 6066 or RFC 8449.
	ErrNegotiation = errors.New("recordlimit: bad record-size negotiation")
	// ErrProtocol matches a server's record or handshake message that
	// tlsapp's record guard cannot follow: one out of its place, across a
	// key change, or above the size bound of its kind. The guard's own error
	// type, which carries the alert, is internal.
	ErrProtocol = errors.New("recordlimit: server handshake the guard cannot follow")
	// ErrMissingSecret is returned when a TLS 1.3 handshake secret needed to
	// read or re-fragment a record was never logged by the TLS stack.
	ErrMissingSecret = errors.New("recordlimit: handshake secret not available")
)

// RecordOverflowError reports a received record longer than the limit in
// force. It maps to the record_overflow alert.
type RecordOverflowError struct {
	Type   ContentType
	Len    int  // the record's length field
	Limit  int  // the largest length accepted
	Agreed bool // whether Limit came from the server's answer or from the protocol maximum
}

func (e *RecordOverflowError) Error() string {
	src := "protocol maximum"
	if e.Agreed {
		src = "negotiated limit"
	}
	return fmt.Sprintf("recordlimit: %v record of %d bytes exceeds the %s of %d", e.Type, e.Len, src, e.Limit)
}

// Alert returns AlertRecordOverflow.
func (e *RecordOverflowError) Alert() Alert { return AlertRecordOverflow }

// Is reports whether target is ErrRecordOverflow.
func (e *RecordOverflowError) Is(target error) bool { return target == ErrRecordOverflow }

// RecordHeaderError reports a record header that is not valid TLS framing.
type RecordHeaderError struct {
	Header [5]byte // the record header as received
	Reason string
}

func (e *RecordHeaderError) Error() string {
	return fmt.Sprintf("recordlimit: bad record header % x: %s", e.Header[:], e.Reason)
}

// Alert returns AlertUnexpectedMessage for an unknown content type and
// AlertDecodeError otherwise.
func (e *RecordHeaderError) Alert() Alert {
	if !ContentType(e.Header[0]).Known() {
		return AlertUnexpectedMessage
	}
	return AlertDecodeError
}

// Is reports whether target is ErrBadRecord.
func (e *RecordHeaderError) Is(target error) bool { return target == ErrBadRecord }

// NegotiationError reports a server answer to max_fragment_length or
// record_size_limit that the RFCs forbid.
type NegotiationError struct {
	Extension uint16 // ExtMaxFragmentLength or ExtRecordSizeLimit, 0 if about both
	Desc      Alert  // the alert the client sends
	Reason    string
}

func (e *NegotiationError) Error() string {
	return fmt.Sprintf("recordlimit: %s (%v)", e.Reason, e.Desc)
}

// Alert returns the alert the client sends for this error.
func (e *NegotiationError) Alert() Alert { return e.Desc }

// Is reports whether target is ErrNegotiation.
func (e *NegotiationError) Is(target error) bool { return target == ErrNegotiation }
