package recordlimit

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

// TestErrors checks, for each error type, its message, the alert it carries
// and the one sentinel it matches, directly and wrapped.
func TestErrors(t *testing.T) {
	sentinels := []error{ErrRecordOverflow, ErrBadRecord, ErrNegotiation, ErrProtocol, ErrMissingSecret}
	tests := []struct {
		name  string
		err   error
		msg   string
		alert Alert
		is    error
	}{
		{"overflow, protocol maximum", &RecordOverflowError{Type: TypeApplicationData, Len: 18433, Limit: 18432},
			"recordlimit: application_data record of 18433 bytes exceeds the protocol maximum of 18432",
			AlertRecordOverflow, ErrRecordOverflow},
		{"overflow, agreed", &RecordOverflowError{Type: TypeHandshake, Len: 530, Limit: 529, Agreed: true},
			"recordlimit: handshake record of 530 bytes exceeds the negotiated limit of 529",
			AlertRecordOverflow, ErrRecordOverflow},
		{"header, unknown type 24", &RecordHeaderError{Header: [5]byte{24, 3, 3, 0, 1}, Reason: "unknown content type 24"},
			"recordlimit: bad record header 18 03 03 00 01: unknown content type 24",
			AlertUnexpectedMessage, ErrBadRecord},
		{"header, unknown type 19", &RecordHeaderError{Header: [5]byte{19, 3, 3, 0, 1}, Reason: "unknown content type 19"},
			"recordlimit: bad record header 13 03 03 00 01: unknown content type 19",
			AlertUnexpectedMessage, ErrBadRecord},
		{"header, bad version, type 20", &RecordHeaderError{Header: [5]byte{20, 2, 0, 0, 1}, Reason: "record version is not TLS"},
			"recordlimit: bad record header 14 02 00 00 01: record version is not TLS",
			AlertDecodeError, ErrBadRecord},
		{"header, bad version, type 23", &RecordHeaderError{Header: [5]byte{23, 2, 0, 0, 1}, Reason: "record version is not TLS"},
			"recordlimit: bad record header 17 02 00 00 01: record version is not TLS",
			AlertDecodeError, ErrBadRecord},
		{"negotiation", &NegotiationError{Extension: ExtRecordSizeLimit, Desc: AlertIllegalParameter, Reason: "record_size_limit 63 is below 64"},
			"recordlimit: record_size_limit 63 is below 64 (illegal_parameter)",
			AlertIllegalParameter, ErrNegotiation},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("handshake: %w", tt.err)} {
			if got := err.Error(); err == tt.err && got != tt.msg {
				t.Errorf("%s: Error() = %q, want %q", tt.name, got, tt.msg)
			}
			if a, ok := AlertOf(err); !ok || a != tt.alert {
				t.Errorf("%s: AlertOf(%v) = %v, %v; want %v", tt.name, err, a, ok, tt.alert)
			}
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.is) {
					t.Errorf("%s: errors.Is(err, %v) = %v", tt.name, s, got)
				}
			}
		}
	}
}

// TestAlertOf checks that an error chain without an alert has none.
func TestAlertOf(t *testing.T) {
	for _, err := range []error{nil, io.EOF, ErrNegotiation, fmt.Errorf("x: %w", ErrProtocol)} {
		if a, ok := AlertOf(err); ok || a != 0 {
			t.Errorf("AlertOf(%v) = %v, %v; want none", err, a, ok)
		}
	}
	joined := errors.Join(io.EOF, &NegotiationError{Desc: AlertDecodeError})
	if a, ok := AlertOf(joined); !ok || a != AlertDecodeError {
		t.Errorf("AlertOf(joined) = %v, %v", a, ok)
	}
}

func TestAlertString(t *testing.T) {
	tests := []struct {
		a    Alert
		want string
	}{
		{AlertCloseNotify, "close_notify"},
		{AlertUnexpectedMessage, "unexpected_message"},
		{AlertBadRecordMAC, "bad_record_mac"},
		{AlertRecordOverflow, "record_overflow"},
		{AlertHandshakeFailure, "handshake_failure"},
		{AlertBadCertificate, "bad_certificate"},
		{AlertUnknownCA, "unknown_ca"},
		{AlertIllegalParameter, "illegal_parameter"},
		{AlertDecodeError, "decode_error"},
		{AlertProtocolVersion, "protocol_version"},
		{AlertInternalError, "internal_error"},
		{AlertUnsupportedExtension, "unsupported_extension"},
		{AlertCertificateRequired, "certificate_required"},
		{1, "alert(1)"},
		{255, "alert(255)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("Alert(%d).String() = %q, want %q", uint8(tt.a), got, tt.want)
		}
	}
	// The code points, from RFC 8446, Section 6, and RFC 5246, Section 7.2.
	codes := map[Alert]uint8{AlertCloseNotify: 0, AlertUnexpectedMessage: 10, AlertBadRecordMAC: 20, AlertRecordOverflow: 22,
		AlertHandshakeFailure: 40, AlertBadCertificate: 42, AlertIllegalParameter: 47, AlertUnknownCA: 48, AlertDecodeError: 50,
		AlertProtocolVersion: 70, AlertInternalError: 80, AlertUnsupportedExtension: 110, AlertCertificateRequired: 116}
	for a, c := range codes {
		if uint8(a) != c {
			t.Errorf("%v is %d, want %d", a, uint8(a), c)
		}
	}
}
