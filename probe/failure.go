package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"reflect"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// FailureKind names why a connection failed.
type FailureKind string

// The failure kinds, from the most specific.
const (
	FailExpired          FailureKind = "certificate_expired"   // a certificate of the chain is outside its validity period
	FailUnknownAuthority FailureKind = "unknown_authority"     // no trust anchor issued the chain
	FailNameMismatch     FailureKind = "name_mismatch"         // the leaf does not carry the server name
	FailVerification     FailureKind = "verification_failed"   // another certificate problem
	FailRecordOverflow   FailureKind = "record_overflow"       // the server sent a record above the agreed limit
	FailNegotiation      FailureKind = "bad_negotiation"       // the server's answer to an extension breaks its RFC
	FailAlert            FailureKind = "alert_received"        // the server ended the handshake with an alert
	FailTimeout          FailureKind = "timeout"               // the dial, handshake or read took too long
	FailConnect          FailureKind = "connect_failed"        // no TCP connection
	FailConfig           FailureKind = "invalid_configuration" // the probe's own settings (tlsapp.ErrConfig)
	FailOther            FailureKind = "other"
)

// Failure is the typed cause of a failed connection.
type Failure struct {
	Kind FailureKind `json:"kind"`
	// Certificate is the subject of the certificate at fault (expired,
	// unknown issuer), and Leaf whether it is the server's own.
	Certificate string     `json:"certificate,omitempty"`
	Leaf        bool       `json:"leaf,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	// Alert is the TLS alert received or sent, when one was.
	Alert   string `json:"alert,omitempty"`
	Message string `json:"message"`
}

// Verification reports whether the failure is about the server's
// certificate, so that nothing probed after it would be trustworthy.
func (f *Failure) Verification() bool {
	if f == nil {
		return false
	}
	switch f.Kind {
	case FailExpired, FailUnknownAuthority, FailNameMismatch, FailVerification:
		return true
	}
	return false
}

// Classify returns the typed cause of err, or nil for a nil err. It decides
// with errors.Is and errors.As only.
func Classify(err error) *Failure {
	if err == nil {
		return nil
	}
	f := &Failure{Kind: FailOther, Message: err.Error()}
	var (
		inv  x509.CertificateInvalidError
		ua   x509.UnknownAuthorityError
		host x509.HostnameError
		roe  *recordlimit.RecordOverflowError
		ne   net.Error
		op   *net.OpError
	)
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		f.Kind = FailExpired
		if inv.Cert != nil {
			f.Certificate, f.Leaf = inv.Cert.Subject.String(), !inv.Cert.IsCA
			na := inv.Cert.NotAfter.UTC()
			f.NotAfter = &na
		}
	case errors.As(err, &ua):
		f.Kind = FailUnknownAuthority
		if ua.Cert != nil {
			f.Certificate, f.Leaf = ua.Cert.Subject.String(), !ua.Cert.IsCA
		}
	case errors.As(err, &host):
		f.Kind = FailNameMismatch
		if host.Certificate != nil {
			f.Certificate, f.Leaf = host.Certificate.Subject.String(), true
		}
	case errors.As(err, &inv), errors.As(err, new(x509.SystemRootsError)), errors.As(err, new(x509.ConstraintViolationError)):
		f.Kind = FailVerification
	case errors.As(err, &roe):
		f.Kind = FailRecordOverflow
	case errors.Is(err, recordlimit.ErrNegotiation):
		f.Kind = FailNegotiation
	case errors.Is(err, tlsapp.ErrConfig):
		f.Kind = FailConfig
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		f.Kind = FailTimeout
	case errors.As(err, &op) && op.Op == "remote error":
		f.Kind = FailAlert
	case errors.As(err, &op) && op.Op == "dial":
		f.Kind = FailConnect
	}
	if a, ok := recordlimit.AlertOf(err); ok {
		f.Alert = a.String()
	} else if a, ok := remoteAlert(err); ok {
		f.Alert = a.String()
	}
	return f
}

// remoteAlert returns the alert of a "remote error" from the TLS stack:
// utls reports a received alert as a *net.OpError whose Err is its
// unexported alert type, a uint8.
func remoteAlert(err error) (recordlimit.Alert, bool) {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(op.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return recordlimit.Alert(v.Uint()), true
}
