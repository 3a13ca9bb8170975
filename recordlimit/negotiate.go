package recordlimit

import "fmt"

// Offer is what a client asks for in its ClientHello.
type Offer struct {
	// MaxFragmentLength is the max_fragment_length code offered, or 0.
	MaxFragmentLength MaxFragmentLength
	// RecordSizeLimit is the record_size_limit value offered (64..16385), or 0.
	// It is the largest record the client is willing to receive.
	RecordSizeLimit int
}

// Validate reports whether o can be sent: a valid MFL code and an RSL between
// 64 and 16385.
func (o Offer) Validate() error {
	if o.MaxFragmentLength != 0 && !o.MaxFragmentLength.Valid() {
		return fmt.Errorf("recordlimit: max_fragment_length code %d is not one of 1..4", o.MaxFragmentLength)
	}
	if o.RecordSizeLimit != 0 && (o.RecordSizeLimit < MinRecordSizeLimit || o.RecordSizeLimit > MaxRecordSizeLimitTLS13) {
		return fmt.Errorf("recordlimit: record_size_limit must be between %d and %d, not %d",
			MinRecordSizeLimit, MaxRecordSizeLimitTLS13, o.RecordSizeLimit)
	}
	return nil
}

// Kind says which extension, if any, the server agreed to.
type Kind uint8

// The possible outcomes of a negotiation.
const (
	KindNone Kind = iota // the server answered neither extension
	KindMFL              // the server echoed max_fragment_length
	KindRSL              // the server answered record_size_limit
)

func (k Kind) String() string {
	switch k {
	case KindMFL:
		return "max_fragment_length"
	case KindRSL:
		return "record_size_limit"
	}
	return "none"
}

// Agreement is the outcome of a negotiation: what the server answered, for
// which version and cipher suite.
type Agreement struct {
	Version uint16
	Suite   uint16
	Kind    Kind
	// MaxFragmentLength is the echoed code when Kind is KindMFL.
	MaxFragmentLength MaxFragmentLength
	// PeerRecordSizeLimit is the server's record_size_limit when Kind is
	// KindRSL: the largest record the server will receive.
	PeerRecordSizeLimit int
}

// Negotiate applies RFC 6066 and RFC 8449 to the extensions of a server's
// answer. inServerHello says whether exts come from a ServerHello (TLS 1.2, or
// a TLS 1.3 ServerHello or HelloRetryRequest, where neither extension may
// appear) rather than from TLS 1.3 EncryptedExtensions.
//
// The rules, each a NegotiationError carrying its alert:
//   - an answer to an extension that was not offered: unsupported_extension;
//   - in TLS 1.3, either answer in a ServerHello: illegal_parameter;
//   - a body of the wrong length: decode_error;
//   - an echoed max_fragment_length that differs from the offer: illegal_parameter;
//   - a record_size_limit below 64, or above the version's maximum: illegal_parameter;
//   - answers to both extensions: illegal_parameter.
//
// On error the Agreement carries only the version and suite: Kind is KindNone.
func Negotiate(o Offer, version, suite uint16, inServerHello bool, exts []Extension) (Agreement, error) {
	a, err := negotiate(o, version, suite, inServerHello, exts)
	if err != nil {
		return Agreement{Version: version, Suite: suite}, err
	}
	return a, nil
}

func negotiate(o Offer, version, suite uint16, inServerHello bool, exts []Extension) (Agreement, error) {
	a := Agreement{Version: version, Suite: suite}
	mfl, haveMFL := findExtension(exts, ExtMaxFragmentLength)
	rsl, haveRSL := findExtension(exts, ExtRecordSizeLimit)
	if haveMFL && o.MaxFragmentLength == 0 {
		return a, negErr(ExtMaxFragmentLength, AlertUnsupportedExtension, "server answered max_fragment_length, which was not offered")
	}
	if haveRSL && o.RecordSizeLimit == 0 {
		return a, negErr(ExtRecordSizeLimit, AlertUnsupportedExtension, "server answered record_size_limit, which was not offered")
	}
	if version >= VersionTLS13 && inServerHello {
		if haveMFL {
			return a, negErr(ExtMaxFragmentLength, AlertIllegalParameter, "max_fragment_length in a TLS 1.3 ServerHello")
		}
		if haveRSL {
			return a, negErr(ExtRecordSizeLimit, AlertIllegalParameter, "record_size_limit in a TLS 1.3 ServerHello")
		}
	}
	if haveMFL {
		m, err := ParseMaxFragmentLength(mfl)
		if err != nil {
			return a, err
		}
		if m != o.MaxFragmentLength {
			return a, negErr(ExtMaxFragmentLength, AlertIllegalParameter,
				"server echoed max_fragment_length %v, offered %v", m, o.MaxFragmentLength)
		}
		a.Kind, a.MaxFragmentLength = KindMFL, m
	}
	if haveRSL {
		v, err := ParseRecordSizeLimit(rsl)
		if err != nil {
			return a, err
		}
		if max := maxRecordSizeLimit(version); v > max {
			return a, negErr(ExtRecordSizeLimit, AlertIllegalParameter,
				"server's record_size_limit %d is above the maximum %d", v, max)
		}
		a.Kind, a.PeerRecordSizeLimit = KindRSL, v
	}
	if haveMFL && haveRSL {
		return a, negErr(0, AlertIllegalParameter,
			"server answered both max_fragment_length and record_size_limit")
	}
	return a, nil
}

func maxRecordSizeLimit(version uint16) int {
	if version >= VersionTLS13 {
		return MaxRecordSizeLimitTLS13
	}
	return MaxRecordSizeLimitTLS12
}

// Limits are the record sizes in force on a connection.
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
func (a Agreement) Limits(o Offer) Limits {
	tls13 := a.Version >= VersionTLS13
	exp := Expansion(a.Version, a.Suite)
	l := Limits{Send: MaxPlaintext, ReceivePlain: MaxPlaintext}
	if tls13 {
		l.Receive = MaxCiphertextTLS13
	} else {
		l.Receive = MaxCiphertextTLS12
	}
	switch a.Kind {
	case KindMFL:
		n := a.MaxFragmentLength.Bytes()
		l.Send, l.ReceivePlain = n, n
		if tls13 {
			l.Receive = n + 1 + exp
		} else {
			l.Receive = n + exp
		}
	case KindRSL:
		peer, own := a.PeerRecordSizeLimit, o.RecordSizeLimit
		if tls13 {
			// RFC 8449: the limit counts the inner content-type byte.
			l.Send = min(peer, MaxRecordSizeLimitTLS13) - 1
			l.Receive = min(own, MaxRecordSizeLimitTLS13) + exp
		} else {
			l.Send = min(peer, MaxRecordSizeLimitTLS12)
			l.Receive = min(own, MaxRecordSizeLimitTLS12) + exp
		}
	}
	return l
}

// Expansion returns the most bytes record protection may add to a plaintext
// fragment with the given cipher suite: the AEAD tag and, in TLS 1.2 AES-GCM,
// the explicit nonce; for TLS 1.2 AES-CBC the explicit IV (16), the MAC (20,
// 32 or 48) and the padding, which a sender may make up to 256 bytes long
// (crypto/tls and most stacks send at most one block, 16). For TLS 1.3 the
// inner content-type byte is not included. For a suite it does not know it
// returns the protocol's allowance (256 for TLS 1.3, 2048 for TLS 1.2).
func Expansion(version, suite uint16) int {
	if version >= VersionTLS13 {
		switch suite {
		case 0x1301, 0x1302, 0x1303: // AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305
			return 16
		}
		return MaxCiphertextTLS13 - MaxPlaintext
	}
	switch suite {
	case 0xc02b, 0xc02c, 0xc02f, 0xc030, 0x009c, 0x009d: // AES-GCM: 8-byte explicit nonce + tag
		return 8 + 16
	case 0xcca8, 0xcca9: // ChaCha20-Poly1305
		return 16
	case 0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035: // AES-CBC, HMAC-SHA1
		return cbcIV + 20 + cbcMaxPadding
	case 0xc023, 0xc027, 0x003c, 0x003d: // AES-CBC, HMAC-SHA256
		return cbcIV + 32 + cbcMaxPadding
	case 0xc024, 0xc028: // AES-CBC, HMAC-SHA384
		return cbcIV + 48 + cbcMaxPadding
	}
	return MaxCiphertextTLS12 - MaxPlaintext
}

// The TLS 1.2 block cipher record (RFC 5246, Section 6.2.3.2): an explicit
// IV of one AES block, and padding of up to 255 bytes plus its length byte.
const (
	cbcIV         = 16
	cbcMaxPadding = 256
)
