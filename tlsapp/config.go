package tlsapp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/trust"
)

// Config configures a client connection. A Config may be reused for many
// connections and must not be modified while in use.
type Config struct {
	// ServerName is the name the server's certificate must carry and, unless
	// it is an IP address, the SNI sent.
	ServerName string

	// RootCAs are the trusted anchors; nil means the system pool. Ignored
	// when Verifier is set.
	RootCAs *x509.CertPool

	// Verifier, when set, verifies the server's chain instead of RootCAs,
	// for example against every CA of a credential store's selected tags.
	Verifier trust.Verifier

	// Credentials, when set, supplies the trust anchors, the client
	// certificate and the session cache from a credential store: the server
	// is verified against every CA of the selected tags at once. It cannot
	// be combined with RootCAs, Verifier or InsecureSkipVerify. Certificates
	// and ClientSessionCache, when set, are used instead of the selection's.
	Credentials trust.Credentials

	// InsecureSkipVerify turns certificate verification off. It exists for
	// diagnostics (a probe that reports a chain it cannot verify); a device
	// must never set it.
	InsecureSkipVerify bool

	// Certificates are client certificate chains for mutual TLS. The
	// private key may be any crypto.Signer, for example a key held by a
	// PKCS#11 token; SupportedSignatureAlgorithms, when set, limits how the
	// client signs with it.
	Certificates []tls.Certificate

	// NextProtos are the ALPN protocols offered, in order of preference.
	NextProtos []string

	// MinVersion and MaxVersion bound the TLS versions offered
	// (tls.VersionTLS12 or tls.VersionTLS13; 0 means 1.2 and 1.3).
	MinVersion, MaxVersion uint16

	// CipherSuites lists the TLS 1.2 and 1.3 cipher suites to offer, in
	// order of preference. Nil means the AEAD suites (AES-GCM and
	// ChaCha20-Poly1305), AES-128-GCM first. The TLS 1.2 ECDHE suites with
	// AES-CBC and HMAC-SHA1 or HMAC-SHA256 (see ModemCipherSuites) are
	// offered only when listed: they are what some embedded peers speak,
	// and weaker than the AEAD ones.
	CipherSuites []uint16

	// SignatureSchemes lists the signature algorithms the client offers
	// in its signature_algorithms extension, in order of preference, as
	// TLS SignatureScheme code points (RFC 8446, Section 4.2.3; the values
	// of crypto/tls's SignatureScheme constants, such as 0x0804 for
	// rsa_pss_rsae_sha256). The server must sign the handshake (its TLS
	// 1.3 CertificateVerify or TLS 1.2 ServerKeyExchange) with one of
	// them: any other ends the handshake with illegal_parameter. Nil means
	// DefaultSignatureSchemes; ecdsa_secp521r1_sha512 is offered only when
	// listed. Each must be one of SupportedSignatureSchemes (no SHA-1 or
	// MD5 scheme is), else the Config is refused with an
	// *UnsupportedError. It does not bound the signatures inside the
	// server's certificate chain, nor how the client signs for a client
	// certificate (the server's request and the certificate's
	// SupportedSignatureAlgorithms decide that).
	SignatureSchemes []uint16

	// CurvePreferences lists the key exchange groups the client offers,
	// in order of preference, as TLS NamedGroup code points (RFC 8446,
	// Section 4.2.7; the values of crypto/tls's CurveID constants): 29
	// X25519, 23 P-256, 24 P-384, 25 P-521, 4588 X25519MLKEM768. In TLS
	// 1.3 the client sends a key share for the first; a server that wants
	// another group asks with a HelloRetryRequest. Nil means X25519, P-256
	// and P-384: P-521 is offered only when listed. X25519MLKEM768 may
	// only come first, followed by X25519, and is sent with a key share
	// for each (utls completes the hybrid with the X25519 share and cannot
	// make it after a HelloRetryRequest); PostQuantum puts it in front
	// when the list does not place it, and it is left out when MaxVersion
	// is TLS 1.2. Each must be one of SupportedCurves, else the Config is
	// refused with an *UnsupportedError.
	CurvePreferences []uint16

	// MaxFragmentLength is the max_fragment_length to offer: 512, 1024, 2048
	// or 4096 bytes. 0 means do not offer it.
	MaxFragmentLength int

	// RecordSizeLimit is the record_size_limit to offer: the largest record
	// the client will receive, 64 to 16385 (in TLS 1.3 the limit counts the
	// inner content-type byte). 0 means do not offer it.
	RecordSizeLimit int

	// SendRecordLimit caps the content of every application data record
	// the client sends, 64 to 16384 bytes, below whatever the server is
	// owed: for a path that gains from small records (a modem that relays
	// them, a server that cannot ask) even when the server agreed to no
	// limit. 0 means the limit the server is owed (16384 bytes when it
	// agreed to none). Handshake records keep the negotiated limit.
	SendRecordLimit int

	// DeviceLimit, when above zero, makes the client fail the way a device
	// whose own TLS holds at most DeviceLimit content bytes per record
	// fails (a cellular modem: 2048 for an nRF91): a received record whose
	// length on the wire exceeds DeviceLimit plus the most the negotiated
	// suite's protection adds (recordlimit.Expansion, and TLS 1.3's
	// content-type byte), or DeviceLimit for an unprotected record, ends
	// the connection with a *DeviceLimitError, whatever was negotiated.
	// It is for finding out whether a server would work for such a device;
	// 0 means no such bound. 64 to 16384.
	DeviceLimit int

	// MaxReceivedRecord, when above zero, is the longest record, as its
	// header's length field counts it, that the client accepts: a longer
	// one ends the connection with a *DeviceLimitError, as a modem's socket
	// fails with EMSGSIZE (ModemRecordLimit is an nRF91's figure). At
	// least 64.
	MaxReceivedRecord int

	// ClientSessionCache, when set, enables session resumption (TLS 1.2
	// tickets and TLS 1.3 PSK). A resumed handshake sends and receives far
	// fewer bytes. NewSessionCache makes one in memory; credstore keeps one
	// across restarts.
	ClientSessionCache trust.SessionCache

	// PostQuantum offers the X25519MLKEM768 hybrid key share in addition to
	// X25519. It protects today's traffic against a future quantum computer
	// but adds about 1.2 KB to every ClientHello and keeps about 8 KB more
	// per connection during the handshake. Off by default.
	PostQuantum bool

	// DisableCertCompression stops offering certificate compression
	// (RFC 8879, zstd and brotli), which is on by default and shrinks the
	// server's TLS 1.3 Certificate message.
	DisableCertCompression bool

	// KeyLogWriter, when set, receives the session secrets in NSS key log
	// format, for debugging with a packet analyser. It weakens security.
	KeyLogWriter io.Writer

	// Trace, when set, is called with every TLS record that crosses the
	// transport, in either direction, as it crosses (see TraceRecord). It is
	// called from the goroutines that read and write the connection, so it
	// must be quick and safe for concurrent use.
	Trace func(TraceRecord)

	// Time returns the current time for certificate checks; nil means
	// time.Now.
	Time func() time.Time
}

// ErrConfig matches every error about an invalid Config.
var ErrConfig = errors.New("tlsapp: invalid config")

// offer validates the record-size settings and returns the offer.
func (c *Config) offer() (recordlimit.Offer, error) {
	mfl, err := recordlimit.MaxFragmentCodeFor(c.MaxFragmentLength)
	if err != nil {
		return recordlimit.Offer{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.SendRecordLimit != 0 && (c.SendRecordLimit < recordlimit.MinRecordSizeLimit || c.SendRecordLimit > recordlimit.MaxPlaintext) {
		return recordlimit.Offer{}, fmt.Errorf("%w: SendRecordLimit %d is outside %d..%d",
			ErrConfig, c.SendRecordLimit, recordlimit.MinRecordSizeLimit, recordlimit.MaxPlaintext)
	}
	if c.DeviceLimit != 0 && (c.DeviceLimit < recordlimit.MinRecordSizeLimit || c.DeviceLimit > recordlimit.MaxPlaintext) {
		return recordlimit.Offer{}, fmt.Errorf("%w: DeviceLimit %d is outside %d..%d",
			ErrConfig, c.DeviceLimit, recordlimit.MinRecordSizeLimit, recordlimit.MaxPlaintext)
	}
	if c.MaxReceivedRecord != 0 && c.MaxReceivedRecord < recordlimit.MinRecordSizeLimit {
		return recordlimit.Offer{}, fmt.Errorf("%w: MaxReceivedRecord %d is below %d",
			ErrConfig, c.MaxReceivedRecord, recordlimit.MinRecordSizeLimit)
	}
	o := recordlimit.Offer{MaxFragmentLength: mfl, RecordSizeLimit: c.RecordSizeLimit}
	if err := o.Validate(); err != nil {
		return recordlimit.Offer{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return o, nil
}

func (c *Config) versions() (min, max uint16, err error) {
	min, max = c.MinVersion, c.MaxVersion
	if min == 0 {
		min = tls.VersionTLS12
	}
	if max == 0 {
		max = tls.VersionTLS13
	}
	for _, v := range []uint16{min, max} {
		if v != tls.VersionTLS12 && v != tls.VersionTLS13 {
			return 0, 0, fmt.Errorf("%w: version %#04x: only TLS 1.2 and 1.3 are supported", ErrConfig, v)
		}
	}
	if min > max {
		return 0, 0, fmt.Errorf("%w: MinVersion is above MaxVersion", ErrConfig)
	}
	if max == tls.VersionTLS12 && c.RecordSizeLimit > recordlimit.MaxRecordSizeLimitTLS12 {
		// RFC 8449: never advertise more than the version's maximum.
		return 0, 0, fmt.Errorf("%w: record_size_limit %d is above TLS 1.2's maximum %d",
			ErrConfig, c.RecordSizeLimit, recordlimit.MaxRecordSizeLimitTLS12)
	}
	if c.Credentials != nil && (c.RootCAs != nil || c.Verifier != nil || c.InsecureSkipVerify) {
		return 0, 0, fmt.Errorf("%w: Credentials cannot be combined with RootCAs, Verifier or InsecureSkipVerify", ErrConfig)
	}
	if c.ServerName == "" && !c.InsecureSkipVerify {
		return 0, 0, fmt.Errorf("%w: ServerName is needed to verify the server", ErrConfig)
	}
	return min, max, nil
}

// Suites this client can offer.
var (
	suites13 = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_AES_256_GCM_SHA384}
	suites12 = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	}
	// Offered only when listed in Config.CipherSuites.
	suites12CBC = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
		tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	}
)

func (c *Config) suites() ([]uint16, error) {
	if c.CipherSuites == nil {
		return append(append([]uint16(nil), suites13...), suites12...), nil
	}
	if len(c.CipherSuites) == 0 {
		return nil, fmt.Errorf("%w: CipherSuites is empty", ErrConfig)
	}
	for _, s := range c.CipherSuites {
		if !slices.Contains(suites13, s) && !slices.Contains(suites12, s) && !slices.Contains(suites12CBC, s) {
			return nil, fmt.Errorf("%w: cipher suite %s is not supported", ErrConfig, tls.CipherSuiteName(s))
		}
	}
	return c.CipherSuites, nil
}

// ModemRecordLimit is the longest record, as its header's length field
// counts it, that an nRF91-class cellular modem's TLS receives: its sockets
// take at most 2048 content bytes per record (NRF_SOCKET_TLS_MAX_MESSAGE_SIZE)
// and fail with EMSGSIZE on a record longer than 2303 bytes.
const ModemRecordLimit = 2303

// ModemCipherSuites returns the cipher suites an nRF91-class modem on older
// firmware offers that this client implements: TLS 1.2 ECDHE (ECDSA or RSA)
// with AES-CBC and HMAC-SHA1 or HMAC-SHA256. The modems also list AES-CBC
// with HMAC-SHA384, AES-CCM-8 and pre-shared-key suites, which neither this
// client nor Go's crypto/tls implements; recent firmware adds the ECDHE
// AES-GCM suites.
func ModemCipherSuites() []uint16 { return slices.Clone(suites12CBC) }

// ModemConfig returns a Config under which the client behaves like a
// cellular modem's own TLS, as a stand-in for testing a server or an edge
// meant for devices that keep theirs: TLS 1.2 only, ModemCipherSuites,
// neither max_fragment_length nor record_size_limit offered, and
// MaxReceivedRecord ModemRecordLimit, so that a record the modem could not
// hold ends the connection with a *DeviceLimitError (errors.Is
// syscall.EMSGSIZE), as it ends the modem's socket. The server's
// certificate must carry serverName; set RootCAs, Verifier or Credentials
// as for any Config.
func ModemConfig(serverName string) *Config {
	return &Config{
		ServerName:        serverName,
		MinVersion:        tls.VersionTLS12,
		MaxVersion:        tls.VersionTLS12,
		CipherSuites:      ModemCipherSuites(),
		MaxReceivedRecord: ModemRecordLimit,
	}
}

// ErrDeviceLimit matches every *DeviceLimitError.
var ErrDeviceLimit = errors.New("tlsapp: record longer than the device holds")

// DeviceLimitError reports a received record longer than Config.DeviceLimit
// or Config.MaxReceivedRecord allow: the connection failed as a modem's TLS
// socket fails with EMSGSIZE on a record it cannot hold. No alert is sent.
// errors.Is matches ErrDeviceLimit and syscall.EMSGSIZE.
type DeviceLimitError struct {
	Type  recordlimit.ContentType // the record's type, as its header says
	Len   int                     // the record's length field
	Limit int                     // the longest record the device holds in its place
}

func (e *DeviceLimitError) Error() string {
	return fmt.Sprintf("tlsapp: received a %d-byte %v record; the device holds at most %d (EMSGSIZE)", e.Len, e.Type, e.Limit)
}

// Is reports whether target is ErrDeviceLimit or syscall.EMSGSIZE.
func (e *DeviceLimitError) Is(target error) bool {
	return target == ErrDeviceLimit || target == syscall.EMSGSIZE
}
