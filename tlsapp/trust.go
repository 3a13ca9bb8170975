package tlsapp

import (
	"crypto/sha256"
	"crypto/x509"
)

// Anchor identifies a trust anchor that verified a server's certificate chain.
type Anchor struct {
	// Tag is the security tag the anchor is stored under. It is 0 when the
	// anchor came from Config.RootCAs or the system pool.
	Tag uint32
	// Subject is the anchor certificate's subject, as x509.Name.String prints it.
	Subject string
	// SHA256 is the SHA-256 digest of the anchor certificate's DER encoding.
	SHA256 [32]byte
}

// AnchorOf describes cert as an Anchor stored under tag.
func AnchorOf(tag uint32, cert *x509.Certificate) Anchor {
	return Anchor{Tag: tag, Subject: cert.Subject.String(), SHA256: sha256.Sum256(cert.Raw)}
}

// Verifier verifies a server's certificate chain in place of Config.RootCAs.
//
// VerifyServer is given the chain exactly as the server sent it (leaf first)
// and the name the client expects. It must check the chain against every
// anchor it holds at once, the hostname and the validity period, and return
// every distinct anchor that verified it. When none does, it returns an error
// that explains why, for each anchor it tried.
//
// Implementations must be safe for concurrent use.
type Verifier interface {
	VerifyServer(serverName string, chain []*x509.Certificate) ([]Anchor, error)
}
