package recordlimit

import (
	"errors"
	"strconv"
)

// Alert is a TLS alert description (RFC 8446, Section 6).
type Alert uint8

// The alerts this package sends or maps errors to, and a few a TLS stack
// sends that callers meet.
const (
	AlertCloseNotify          Alert = 0
	AlertUnexpectedMessage    Alert = 10
	AlertBadRecordMAC         Alert = 20
	AlertRecordOverflow       Alert = 22
	AlertHandshakeFailure     Alert = 40
	AlertBadCertificate       Alert = 42
	AlertUnknownCA            Alert = 48
	AlertIllegalParameter     Alert = 47
	AlertDecodeError          Alert = 50
	AlertProtocolVersion      Alert = 70
	AlertInternalError        Alert = 80
	AlertUnsupportedExtension Alert = 110
	AlertCertificateRequired  Alert = 116
)

var alertNames = map[Alert]string{
	AlertCloseNotify:          "close_notify",
	AlertUnexpectedMessage:    "unexpected_message",
	AlertBadRecordMAC:         "bad_record_mac",
	AlertRecordOverflow:       "record_overflow",
	AlertHandshakeFailure:     "handshake_failure",
	AlertBadCertificate:       "bad_certificate",
	AlertUnknownCA:            "unknown_ca",
	AlertIllegalParameter:     "illegal_parameter",
	AlertDecodeError:          "decode_error",
	AlertProtocolVersion:      "protocol_version",
	AlertInternalError:        "internal_error",
	AlertUnsupportedExtension: "unsupported_extension",
	AlertCertificateRequired:  "certificate_required",
}

// String returns the alert's name as the RFCs spell it.
func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// alerter is implemented by the errors of this package.
type alerter interface{ Alert() Alert }

// AlertOf returns the TLS alert that err maps to, if any error in its chain
// carries one.
func AlertOf(err error) (Alert, bool) {
	var a alerter
	if errors.As(err, &a) {
		return a.Alert(), true
	}
	return 0, false
}
