package tlsapp

import (
	"crypto/tls"

	utls "github.com/refraction-networking/utls"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// helloSpec builds the ClientHello: a plain, standards-following hello
// offering groups and sigAlgs (Config.curves and signatureSchemes), with the
// record-size extensions the offer asks for, and pre_shared_key when resume
// says a session cache is in use.
func helloSpec(cfg *Config, offer recordlimit.Offer, suites, groups, sigAlgs []uint16, vmin, vmax uint16, resume bool) *utls.ClientHelloSpec {
	var versions []uint16
	for v := vmax; v >= vmin; v-- {
		versions = append(versions, v)
	}
	curves := make([]utls.CurveID, len(groups))
	for i, g := range groups {
		curves[i] = utls.CurveID(g)
	}
	// A key share for the first group; after a hybrid one (which
	// Config.curves places first, X25519 second), also for X25519, which
	// utls needs to complete the hybrid and a server without the hybrid
	// takes with no HelloRetryRequest.
	shares := []utls.KeyShare{{Group: curves[0]}}
	if curves[0] == utls.X25519MLKEM768 {
		shares = append(shares, utls.KeyShare{Group: utls.X25519})
	}
	schemes := make([]utls.SignatureScheme, len(sigAlgs))
	for i, s := range sigAlgs {
		schemes[i] = utls.SignatureScheme(s)
	}
	exts := []utls.TLSExtension{
		&utls.SNIExtension{ServerName: cfg.ServerName},
		&utls.ExtendedMasterSecretExtension{},
		&utls.RenegotiationInfoExtension{Renegotiation: utls.RenegotiateNever},
		&utls.SupportedCurvesExtension{Curves: curves},
		&utls.SupportedPointsExtension{SupportedPoints: []byte{0}}, // uncompressed
		&utls.SessionTicketExtension{},
		&utls.SignatureAlgorithmsExtension{SupportedSignatureAlgorithms: schemes},
		&utls.SupportedVersionsExtension{Versions: versions},
	}
	if len(cfg.NextProtos) > 0 {
		exts = append(exts, &utls.ALPNExtension{AlpnProtocols: cfg.NextProtos})
	}
	if vmax >= tls.VersionTLS13 {
		exts = append(exts,
			&utls.KeyShareExtension{KeyShares: shares},
			&utls.PSKKeyExchangeModesExtension{Modes: []uint8{utls.PskModeDHE}},
		)
		if !cfg.DisableCertCompression {
			exts = append(exts, &utls.UtlsCompressCertExtension{Algorithms: []utls.CertCompressionAlgo{
				utls.CertCompressionZstd, utls.CertCompressionBrotli,
			}})
		}
	}
	if offer.MaxFragmentLength != 0 {
		exts = append(exts, &utls.GenericExtension{Id: recordlimit.ExtMaxFragmentLength,
			Data: wire.AppendMaxFragmentLength(nil, offer.MaxFragmentLength)})
	}
	if offer.RecordSizeLimit != 0 {
		exts = append(exts, &utls.GenericExtension{Id: recordlimit.ExtRecordSizeLimit,
			Data: wire.AppendRecordSizeLimit(nil, uint16(offer.RecordSizeLimit))})
	}
	if resume && vmax >= tls.VersionTLS13 {
		// pre_shared_key must be the last extension.
		exts = append(exts, &utls.UtlsPreSharedKeyExtension{})
	}
	return &utls.ClientHelloSpec{
		CipherSuites:       suites,
		CompressionMethods: []uint8{0},
		Extensions:         exts,
		TLSVersMin:         vmin,
		TLSVersMax:         vmax,
	}
}
