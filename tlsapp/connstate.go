package tlsapp

import (
	"crypto/tls"
	"errors"
)

// ConnectionState is the state of a connection's TLS session in crypto/tls's
// terms, with everything utls reports (OCSP response, SCTs, tls-unique,
// ECH), the key exchange group and HelloRetryRequest as the record layer saw
// them, plus a keying material exporter. Its ExportKeyingMaterial method is
// the one to call: that of the embedded tls.ConnectionState cannot be set
// from outside crypto/tls and panics.
type ConnectionState struct {
	tls.ConnectionState
	ekm func(label string, context []byte, length int) ([]byte, error)
}

// errNoExporter is ExportKeyingMaterial's error before the handshake.
var errNoExporter = errors.New("tlsapp: ExportKeyingMaterial needs a completed handshake")

// ExportKeyingMaterial returns length bytes of keying material exported
// from the session (RFC 5705; RFC 8446, Section 7.5) for label and
// context. It returns an error before the handshake has completed, and in
// TLS 1.2 without the extended master secret.
func (cs ConnectionState) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	if cs.ekm == nil || !cs.HandshakeComplete {
		return nil, errNoExporter
	}
	return cs.ekm(label, context, length)
}
