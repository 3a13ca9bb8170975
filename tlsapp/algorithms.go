package tlsapp

import (
	"crypto/tls"
	"fmt"
	"slices"
)

// The signature schemes the client can offer and verify. Neither list
// holds a SHA-1 or MD5 scheme: a handshake signed with one is forgeable
// at a cost within reach (RFC 9155 deprecates them in TLS 1.2).
var (
	defaultSignatureSchemes = []uint16{
		uint16(tls.ECDSAWithP256AndSHA256), uint16(tls.PSSWithSHA256), uint16(tls.PKCS1WithSHA256),
		uint16(tls.ECDSAWithP384AndSHA384), uint16(tls.PSSWithSHA384), uint16(tls.PKCS1WithSHA384),
		uint16(tls.PSSWithSHA512), uint16(tls.PKCS1WithSHA512), uint16(tls.Ed25519),
	}
	// Offered only when listed in Config.SignatureSchemes.
	optionalSignatureSchemes = []uint16{uint16(tls.ECDSAWithP521AndSHA512)}
)

// The key exchange groups the client can offer, and those it offers by
// default (X25519MLKEM768 is put in front of them by Config.PostQuantum).
var (
	supportedCurves = []uint16{
		uint16(tls.X25519MLKEM768), uint16(tls.X25519),
		uint16(tls.CurveP256), uint16(tls.CurveP384), uint16(tls.CurveP521),
	}
	defaultCurves = []uint16{uint16(tls.X25519), uint16(tls.CurveP256), uint16(tls.CurveP384)}
)

// DefaultSignatureSchemes returns the signature schemes the client offers
// and accepts when Config.SignatureSchemes is nil, in order of preference:
// ECDSA with P-256 and SHA-256, RSA-PSS and RSA PKCS #1 v1.5 with SHA-256,
// the same with P-384 and SHA-384, RSA-PSS and PKCS #1 v1.5 with SHA-512,
// and Ed25519.
func DefaultSignatureSchemes() []uint16 { return slices.Clone(defaultSignatureSchemes) }

// SupportedSignatureSchemes returns every signature scheme
// Config.SignatureSchemes may list: DefaultSignatureSchemes and
// ecdsa_secp521r1_sha512 (0x0603). No SHA-1 or MD5 scheme is among them.
func SupportedSignatureSchemes() []uint16 {
	return append(DefaultSignatureSchemes(), optionalSignatureSchemes...)
}

// SupportedCurves returns every key exchange group Config.CurvePreferences
// may list: X25519MLKEM768 (4588), X25519 (29), P-256 (23), P-384 (24) and
// P-521 (25).
func SupportedCurves() []uint16 { return slices.Clone(supportedCurves) }

// UnsupportedError reports a code point in a Config list that the client
// does not implement, such as a SHA-1 signature scheme in
// SignatureSchemes. errors.Is matches ErrConfig.
type UnsupportedError struct {
	Field string // the Config field: "SignatureSchemes" or "CurvePreferences"
	Value uint16 // the code point
}

func (e *UnsupportedError) Error() string {
	name := ""
	switch e.Field {
	case "SignatureSchemes":
		name = " (" + tls.SignatureScheme(e.Value).String() + ")"
	case "CurvePreferences":
		name = " (" + tls.CurveID(e.Value).String() + ")"
	}
	return fmt.Sprintf("%v: %s lists %#04x%s, which the client does not support", ErrConfig, e.Field, e.Value, name)
}

// Is reports whether target is ErrConfig.
func (e *UnsupportedError) Is(target error) bool { return target == ErrConfig }

// checkList refuses an empty list, a value not in supported and a value
// listed twice.
func checkList(field string, list, supported []uint16) error {
	if len(list) == 0 {
		return fmt.Errorf("%w: %s is empty", ErrConfig, field)
	}
	for i, v := range list {
		if !slices.Contains(supported, v) {
			return &UnsupportedError{Field: field, Value: v}
		}
		if slices.Contains(list[:i], v) {
			return fmt.Errorf("%w: %s lists %#04x twice", ErrConfig, field, v)
		}
	}
	return nil
}

// signatureSchemes returns the signature schemes to offer.
func (c *Config) signatureSchemes() ([]uint16, error) {
	if c.SignatureSchemes == nil {
		return defaultSignatureSchemes, nil
	}
	if err := checkList("SignatureSchemes", c.SignatureSchemes, SupportedSignatureSchemes()); err != nil {
		return nil, err
	}
	return slices.Clone(c.SignatureSchemes), nil
}

// curves returns the key exchange groups to offer when the highest version
// offered is vmax: X25519MLKEM768 only with TLS 1.3, in front when
// PostQuantum is set and the list does not place it.
func (c *Config) curves(vmax uint16) ([]uint16, error) {
	list := defaultCurves
	if c.CurvePreferences != nil {
		if err := checkList("CurvePreferences", c.CurvePreferences, supportedCurves); err != nil {
			return nil, err
		}
		list = c.CurvePreferences
	}
	mlkem := uint16(tls.X25519MLKEM768)
	if c.PostQuantum && !slices.Contains(list, mlkem) {
		list = append([]uint16{mlkem}, list...)
	}
	if vmax < tls.VersionTLS13 {
		list = slices.DeleteFunc(slices.Clone(list), func(g uint16) bool { return g == mlkem })
		if len(list) == 0 {
			return nil, fmt.Errorf("%w: CurvePreferences lists only X25519MLKEM768, which needs TLS 1.3", ErrConfig)
		}
	}
	if i := slices.Index(list, mlkem); i >= 0 && (i != 0 || len(list) < 2 || list[1] != uint16(tls.X25519)) {
		// utls derives the hybrid secret with the X25519 key share's
		// private key, and cannot make a hybrid share after a
		// HelloRetryRequest.
		return nil, fmt.Errorf("%w: X25519MLKEM768 must come first in CurvePreferences, followed by X25519", ErrConfig)
	}
	return slices.Clone(list), nil
}
