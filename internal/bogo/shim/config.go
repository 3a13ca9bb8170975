package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// clientSuites is every suite tlsapp's client can offer, as BoringSSL's
// shim enables every one it has: the AEAD suites it offers by default and,
// after them, the TLS 1.2 AES-CBC ones it offers when listed.
var clientSuites = append([]uint16{
	tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
}, tlsapp.ModemCipherSuites()...)

// clientCurves maps -curves, the groups BoringSSL's client enables in
// order of preference, to Config.CurvePreferences: the groups tlsapp's
// client implements (tlsapp.SupportedCurves), in the order given, except
// that X25519MLKEM768 goes first and X25519 right after it, which
// tlsapp's client requires (utls completes the hybrid with the X25519 key
// share). The others cannot be offered, so leaving them out changes
// nothing the runner sees. Without -curves it returns nil: the defaults.
func (o *options) clientCurves() ([]uint16, error) {
	if len(o.curves) == 0 {
		return nil, nil
	}
	supported := tlsapp.SupportedCurves()
	var list []uint16
	for _, c := range o.curves {
		if g := uint16(c); slices.Contains(supported, g) && !slices.Contains(list, g) {
			list = append(list, g)
		}
	}
	if len(list) == 0 {
		return nil, unimplemented("-curves %v: tlsapp's client implements none of them (it has %v)", o.curves, supported)
	}
	mlkem, x25519 := uint16(tls.X25519MLKEM768), uint16(tls.X25519)
	if slices.Contains(list, mlkem) {
		if !slices.Contains(list, x25519) {
			return nil, unimplemented("-curves %v: X25519MLKEM768 without X25519, which tlsapp's client (utls) needs beside it", o.curves)
		}
		rest := slices.DeleteFunc(list, func(g uint16) bool { return g == mlkem || g == x25519 })
		list = append([]uint16{mlkem, x25519}, rest...)
	}
	return list, nil
}

// clientSignatureSchemes maps -verify-prefs, the signature algorithms
// BoringSSL's client accepts, to Config.SignatureSchemes: those tlsapp's
// client implements (tlsapp.SupportedSignatureSchemes), in the order
// given. It never accepts the others (SHA-1, MD5-SHA1), so leaving them
// out of the offer changes nothing it accepts. Without -verify-prefs it
// returns nil: the defaults.
func (o *options) clientSignatureSchemes() ([]uint16, error) {
	if len(o.verifyPrefs) == 0 {
		return nil, nil
	}
	supported := tlsapp.SupportedSignatureSchemes()
	var list []uint16
	for _, s := range o.verifyPrefs {
		if a := uint16(s); slices.Contains(supported, a) && !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	if len(list) == 0 {
		return nil, unimplemented("-verify-prefs %v: tlsapp's client accepts none of them (no SHA-1 or MD5 scheme is supported)", o.verifyPrefs)
	}
	return list, nil
}

// clientMinVersion is the lowest version tlsapp's client speaks.
const clientMinVersion uint16 = tls.VersionTLS12

// check refuses, as unimplemented, the combinations of flags that tlsapp's
// API cannot express on the side the test runs.
func (o *options) check() error {
	lo, hi := o.versions()
	if o.server {
		if o.customVerify || o.reverifyOnResume {
			return unimplemented("a custom verify callback on the server: tlsapp.Server takes crypto/tls's verification")
		}
		if o.checkCloseNotify {
			return unimplemented("-check-close-notify on the server: crypto/tls reports a close_notify and a clean TCP close alike")
		}
		if o.offerRecordSizeLimit != 0 || o.offerMaxFragmentLength != 0 {
			return unimplemented("offering record-size extensions is the client's")
		}
		if len(o.verifyPrefs) > 0 && (o.verifyPeer || o.requireAnyCert) {
			// Without a client certificate asked for, the server verifies
			// no signature and the flag changes nothing.
			return unimplemented(noServerVerifyPref)
		}
		return nil
	}
	if lo <= hi && hi < clientMinVersion {
		return unimplemented("TLS %s..%s on the client: tlsapp's client speaks TLS 1.2 and 1.3 only", tls.VersionName(lo), tls.VersionName(hi))
	}
	if o.selectALPN != "" || o.declineALPN || o.rejectALPN || o.expectAdvertisedALPN != "" {
		return unimplemented("ALPN selection is the server's")
	}
	if len(o.echServerConfigs) > 0 || o.expectECHAccept {
		return unimplemented(noClientECH)
	}
	return nil
}

// versions returns the range of versions the flags enable: BoringSSL's
// -min-version and -max-version (1.0 to 1.3 by default), less the -no-tls
// ones; the range ends below the first version disabled inside it. With
// none enabled, lo is above hi.
func (o *options) versions() (lo, hi uint16) {
	all := []struct {
		v   uint16
		off bool
	}{{tls.VersionTLS10, o.noTLS1}, {tls.VersionTLS11, o.noTLS11}, {tls.VersionTLS12, o.noTLS12}, {tls.VersionTLS13, o.noTLS13}}
	min, max := uint16(tls.VersionTLS10), uint16(tls.VersionTLS13)
	if o.minVersion != 0 {
		min = uint16(o.minVersion)
	}
	if o.maxVersion != 0 {
		max = uint16(o.maxVersion)
	}
	for _, e := range all {
		on := e.v >= min && e.v <= max && !e.off
		switch {
		case on && lo == 0:
			lo, hi = e.v, e.v
		case on && hi == e.v-1:
			hi = e.v
		case !on && lo != 0:
			return lo, hi
		}
	}
	if lo == 0 {
		// Nothing enabled: an empty range, which tlsapp and crypto/tls
		// refuse as a configuration error.
		return tls.VersionTLS13, tls.VersionTLS12
	}
	return lo, hi
}

// keyPair loads -cert-file and -key-file with the shim's signing
// preferences and OCSP response, or returns nil when neither is given.
func (o *options) keyPair() (*tls.Certificate, error) {
	if o.certFile == "" && o.keyFile == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return nil, err
	}
	for _, s := range o.signingPrefs {
		pair.SupportedSignatureAlgorithms = append(pair.SupportedSignatureAlgorithms, tls.SignatureScheme(s))
	}
	pair.OCSPStaple = o.ocspResponse
	return &pair, nil
}

// trustPool loads -trust-cert, or returns nil.
func (o *options) trustPool() (*x509.CertPool, error) {
	if o.trustCert == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.trustCert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("no certificate in %s", o.trustCert)
	}
	return pool, nil
}

// clientConfig builds the client's tlsapp.Config; cache is shared by the
// connections of one run so that resumption works.
func (o *options) clientConfig(cache trust.SessionCache, v *countingVerifier) (*tlsapp.Config, error) {
	lo, hi := o.versions()
	pool, err := o.trustPool()
	if err != nil {
		return nil, err
	}
	curves, err := o.clientCurves()
	if err != nil {
		return nil, err
	}
	schemes, err := o.clientSignatureSchemes()
	if err != nil {
		return nil, err
	}
	cfg := &tlsapp.Config{
		ServerName:         "test",
		MinVersion:         max(lo, clientMinVersion),
		MaxVersion:         hi,
		CipherSuites:       clientSuites,
		CurvePreferences:   curves,
		SignatureSchemes:   schemes,
		ClientSessionCache: cache,
		SendRecordLimit:    o.maxSendFragment,
		RecordSizeLimit:    o.offerRecordSizeLimit,
		MaxFragmentLength:  o.offerMaxFragmentLength,
	}
	if o.trace {
		cfg.Trace = func(r tlsapp.TraceRecord) { fmt.Fprintln(os.Stderr, "trace:", r) }
	}
	if o.hostName != "" {
		cfg.ServerName = o.hostName
	}
	if o.advertiseALPN != "" {
		if cfg.NextProtos, err = alpnList(o.advertiseALPN); err != nil {
			return nil, err
		}
	}
	pair, err := o.keyPair()
	if err != nil {
		return nil, err
	}
	v.pool = pool
	switch {
	case pair != nil:
		// A device's client certificate comes from its credential store:
		// Credentials, which hands the certificate over when the server
		// asks, whatever it asks (BoringSSL's model: a certificate that
		// cannot sign as asked fails the handshake, it is not left out).
		cfg.Credentials = &credentials{verifier: v, cert: pair, sessions: cache}
		cfg.ClientSessionCache = nil
	case o.customVerify:
		cfg.Verifier = v
	default:
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// credentials is the trust.Credentials of a client with a certificate: the
// trust certificate as its anchor, the key pair, the run's sessions.
type credentials struct {
	verifier *countingVerifier
	cert     *tls.Certificate
	sessions trust.SessionCache
}

func (c *credentials) Verifier(context.Context) (trust.Verifier, error) { return c.verifier, nil }

func (c *credentials) ClientCertificate(context.Context) (*tls.Certificate, error) {
	return c.cert, nil
}

func (c *credentials) SessionCache() trust.SessionCache { return c.sessions }

// countingVerifier verifies the server's chain against the trust
// certificate, as the custom verify callback BoGo asks for, and counts its
// calls so that -reverify-on-resume can be checked.
type countingVerifier struct {
	pool  *x509.CertPool
	calls atomic.Int32
}

func (v *countingVerifier) Verify(_ context.Context, name string, chain []*x509.Certificate, now time.Time) ([]trust.Anchor, error) {
	v.calls.Add(1)
	if len(chain) == 0 {
		return nil, errors.New("no certificate from the server")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: v.pool, Intermediates: inter, DNSName: name, CurrentTime: now})
	if err != nil {
		return nil, err
	}
	root := chains[0][len(chains[0])-1]
	return []trust.Anchor{trust.AnchorOf(trust.NoTag, root)}, nil
}

// serverConfig builds the crypto/tls Config the server runs with under
// tlsapp.Server: every version and cipher suite crypto/tls can do unless
// the flags narrow them, as BoringSSL's shim enables every one it has.
func (o *options) serverConfig() (*tls.Config, error) {
	lo, hi := o.versions()
	pool, err := o.trustPool()
	if err != nil {
		return nil, err
	}
	pair, err := o.keyPair()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: lo, MaxVersion: hi, ClientCAs: pool}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		cfg.CipherSuites = append(cfg.CipherSuites, s.ID)
	}
	if pair != nil {
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if err := o.checkPeerVerifyPrefs(hello.SignatureSchemes); err != nil {
				return nil, err
			}
			return pair, nil
		}
	}
	switch {
	case o.requireAnyCert:
		cfg.ClientAuth = tls.RequireAnyClientCert
	case o.verifyPeer:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	switch {
	case o.selectALPN != "":
		cfg.NextProtos = []string{o.selectALPN}
	case o.rejectALPN:
		// A protocol no client offers: crypto/tls then refuses the
		// client's list with no_application_protocol.
		cfg.NextProtos = []string{"tlsapp-bogo-reject"}
	}
	for _, c := range o.curves {
		cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveID(c))
	}
	if len(o.echServerConfigs) != len(o.echServerKeys) || len(o.echServerConfigs) != len(o.echIsRetry) {
		return nil, errors.New("-ech-server-config, -ech-server-key and -ech-is-retry-config do not pair up")
	}
	for i := range o.echServerConfigs {
		cfg.EncryptedClientHelloKeys = append(cfg.EncryptedClientHelloKeys, tls.EncryptedClientHelloKey{
			Config: o.echServerConfigs[i], PrivateKey: o.echServerKeys[i], SendAsRetry: o.echIsRetry[i],
		})
	}
	if o.expectAdvertisedALPN != "" {
		want, err := alpnList(o.expectAdvertisedALPN)
		if err != nil {
			return nil, err
		}
		cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !slices.Equal(hello.SupportedProtos, want) {
				return nil, fmt.Errorf("the client offered ALPN %q, want %q", hello.SupportedProtos, want)
			}
			return nil, nil
		}
	}
	return cfg, nil
}

func (o *options) checkPeerVerifyPrefs(got []tls.SignatureScheme) error {
	if len(o.expectPeerVerify) == 0 {
		return nil
	}
	want := make([]tls.SignatureScheme, len(o.expectPeerVerify))
	for i, s := range o.expectPeerVerify {
		want[i] = tls.SignatureScheme(s)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("the peer's signature algorithms are %v, want %v", got, want)
	}
	return nil
}
