package wire

import "github.com/tlsapp/tlsapp/recordlimit"

// Agreement is the outcome of a negotiation: what the server answered, for
// which version and cipher suite.
type Agreement struct {
	Version uint16
	Suite   uint16
	Kind    recordlimit.Kind
	// MaxFragmentLength is the echoed code when Kind is KindMFL.
	MaxFragmentLength recordlimit.MaxFragmentCode
	// PeerRecordSizeLimit is the server's record_size_limit when Kind is
	// KindRSL: the largest record, in bytes, the server will receive.
	PeerRecordSizeLimit int
}

// NegotiateServerHello applies RFC 6066 and RFC 8449 to the extensions of a
// ServerHello: a TLS 1.2 one, or a TLS 1.3 ServerHello or HelloRetryRequest,
// in which neither extension may appear.
//
// The rules, each a *recordlimit.NegotiationError carrying its alert:
//   - an answer to an extension that was not offered: unsupported_extension;
//   - in TLS 1.3, either answer in a ServerHello: illegal_parameter;
//   - a body of the wrong length: decode_error;
//   - an echoed max_fragment_length that differs from the offer: illegal_parameter;
//   - a record_size_limit below 64, or above the version's maximum: illegal_parameter;
//   - answers to both extensions: illegal_parameter.
//
// On error the Agreement carries only the version and suite: Kind is KindNone.
func NegotiateServerHello(o recordlimit.Offer, version, suite uint16, exts []Extension) (Agreement, error) {
	return negotiate(o, version, suite, true, exts)
}

// NegotiateEncryptedExtensions applies RFC 6066 and RFC 8449 to the
// extensions of a TLS 1.3 EncryptedExtensions message, with the rules of
// NegotiateServerHello but for the one about TLS 1.3 ServerHellos.
func NegotiateEncryptedExtensions(o recordlimit.Offer, suite uint16, exts []Extension) (Agreement, error) {
	return negotiate(o, VersionTLS13, suite, false, exts)
}

func negotiate(o recordlimit.Offer, version, suite uint16, inServerHello bool, exts []Extension) (Agreement, error) {
	a, err := rules(o, version, suite, inServerHello, exts)
	if err != nil {
		return Agreement{Version: version, Suite: suite}, err
	}
	return a, nil
}

func rules(o recordlimit.Offer, version, suite uint16, inServerHello bool, exts []Extension) (Agreement, error) {
	a := Agreement{Version: version, Suite: suite}
	mfl, haveMFL := FindExtension(exts, recordlimit.ExtMaxFragmentLength)
	rsl, haveRSL := FindExtension(exts, recordlimit.ExtRecordSizeLimit)
	if haveMFL && o.MaxFragmentLength == 0 {
		return a, negErr(recordlimit.ExtMaxFragmentLength, recordlimit.AlertUnsupportedExtension, "server answered max_fragment_length, which was not offered")
	}
	if haveRSL && o.RecordSizeLimit == 0 {
		return a, negErr(recordlimit.ExtRecordSizeLimit, recordlimit.AlertUnsupportedExtension, "server answered record_size_limit, which was not offered")
	}
	if version >= VersionTLS13 && inServerHello {
		if haveMFL {
			return a, negErr(recordlimit.ExtMaxFragmentLength, recordlimit.AlertIllegalParameter, "max_fragment_length in a TLS 1.3 ServerHello")
		}
		if haveRSL {
			return a, negErr(recordlimit.ExtRecordSizeLimit, recordlimit.AlertIllegalParameter, "record_size_limit in a TLS 1.3 ServerHello")
		}
	}
	if haveMFL {
		m, err := ParseMaxFragmentLength(mfl)
		if err != nil {
			return a, err
		}
		if m != o.MaxFragmentLength {
			return a, negErr(recordlimit.ExtMaxFragmentLength, recordlimit.AlertIllegalParameter,
				"server echoed max_fragment_length %v, offered %v", m, o.MaxFragmentLength)
		}
		a.Kind, a.MaxFragmentLength = recordlimit.KindMFL, m
	}
	if haveRSL {
		v, err := ParseRecordSizeLimit(rsl)
		if err != nil {
			return a, err
		}
		if max := maxRecordSizeLimit(version); v > max {
			return a, negErr(recordlimit.ExtRecordSizeLimit, recordlimit.AlertIllegalParameter,
				"server's record_size_limit %d is above the maximum %d", v, max)
		}
		a.Kind, a.PeerRecordSizeLimit = recordlimit.KindRSL, v
	}
	if haveMFL && haveRSL {
		return a, negErr(0, recordlimit.AlertIllegalParameter,
			"server answered both max_fragment_length and record_size_limit")
	}
	return a, nil
}

func maxRecordSizeLimit(version uint16) int {
	if version >= VersionTLS13 {
		return recordlimit.MaxRecordSizeLimitTLS13
	}
	return recordlimit.MaxRecordSizeLimitTLS12
}

// Limits are the record sizes in force on a connection, in bytes.
type Limits struct {
	// Send is the most content bytes the client may put in one record: the
	// plaintext fragment in TLS 1.2, the content before the inner content-type
	// byte in TLS 1.3.
	Send int
	// Receive is the longest record body (ciphertext, as the length field
	// counts it) the client accepts in a protected record.
	Receive int
	// ReceivePlain is the longest record body accepted in an unprotected
	// record after the ServerHello (TLS 1.2 only: max_fragment_length binds
	// those too, record_size_limit does not).
	ReceivePlain int
}

// Limits returns the limits that follow from a and the client's offer o.
func (a Agreement) Limits(o recordlimit.Offer) Limits {
	tls13 := a.Version >= VersionTLS13
	exp := recordlimit.Expansion(a.Version, a.Suite)
	l := Limits{Send: recordlimit.MaxPlaintext, ReceivePlain: recordlimit.MaxPlaintext}
	if tls13 {
		l.Receive = MaxCiphertextTLS13
	} else {
		l.Receive = MaxCiphertextTLS12
	}
	switch a.Kind {
	case recordlimit.KindMFL:
		n := a.MaxFragmentLength.Bytes()
		l.Send, l.ReceivePlain = n, n
		if tls13 {
			l.Receive = n + 1 + exp
		} else {
			l.Receive = n + exp
		}
	case recordlimit.KindRSL:
		peer, own := a.PeerRecordSizeLimit, o.RecordSizeLimit
		if tls13 {
			// RFC 8449: the limit counts the inner content-type byte.
			l.Send = min(peer, recordlimit.MaxRecordSizeLimitTLS13) - 1
			l.Receive = min(own, recordlimit.MaxRecordSizeLimitTLS13) + exp
		} else {
			l.Send = min(peer, recordlimit.MaxRecordSizeLimitTLS12)
			l.Receive = min(own, recordlimit.MaxRecordSizeLimitTLS12) + exp
		}
	}
	return l
}
