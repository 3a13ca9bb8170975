package tlsapp

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"time"
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
// Verify is given the chain exactly as the server sent it (leaf first), the
// name the client expects, the time to check validity at (Config.Time, or
// the current time) and the handshake's context. It must check the chain
// against every anchor it holds at once, the hostname and the validity
// period at now, and return every distinct anchor that verified it. When
// none does, it returns an error that explains why, for each anchor it
// tried.
//
// Implementations must be safe for concurrent use.
type Verifier interface {
	Verify(ctx context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]Anchor, error)
}

// Credentials is a selection of tags in a credential store, for
// Config.Credentials; credstore.Select returns one. It is consulted during
// every handshake, so a change to the store applies to the next connection.
//
// Implementations must be safe for concurrent use.
type Credentials interface {
	// Verifier returns a verifier over every trust anchor the selection
	// holds. It is called once per handshake, before the first message.
	Verifier(ctx context.Context) (Verifier, error)
	// ClientCertificate returns the client certificate chain and key the
	// selection holds, or nil and no error when it holds none. It is called
	// only when the server asks for a certificate.
	ClientCertificate(ctx context.Context) (*tls.Certificate, error)
	// SessionCache returns the cache that keeps the selection's session
	// state across connections (and restarts), or nil.
	SessionCache() ClientSessionCache
}
