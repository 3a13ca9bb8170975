package trust

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"time"
)

// Tag is a security tag: the number a credential is stored under. Tag 0 is
// not a store's tag: an Anchor with tag 0 came from a certificate pool
// (tlsapp's Config.RootCAs or the system roots), and stores refuse it.
type Tag uint32

// NoTag is the Tag of an anchor that did not come from a store.
const NoTag Tag = 0

// Anchor identifies a trust anchor that verified a server's certificate
// chain.
type Anchor struct {
	// Tag is the security tag the anchor is stored under, or NoTag when
	// the anchor came from a certificate pool.
	Tag Tag
	// Subject is the anchor certificate's subject, as x509.Name.String
	// prints it.
	Subject string
	// SHA256 is the SHA-256 digest of the anchor certificate's DER encoding.
	SHA256 [32]byte
}

// AnchorOf describes cert as an Anchor stored under tag.
func AnchorOf(tag Tag, cert *x509.Certificate) Anchor {
	return Anchor{Tag: tag, Subject: cert.Subject.String(), SHA256: sha256.Sum256(cert.Raw)}
}

// Verifier verifies a server's certificate chain in place of a certificate
// pool.
//
// Verify is given the chain exactly as the server sent it (leaf
// first), the name the client expects and the time to verify at (the
// client's configured clock). It must check the chain against every anchor
// it holds at once, the hostname and the validity period at now, and return
// every distinct anchor that verified it. When none does, it returns an
// error that explains why, for each anchor it tried. It should give up when
// ctx is done.
//
// Implementations must be safe for concurrent use.
type Verifier interface {
	Verify(ctx context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]Anchor, error)
}

// Session is one session's resumption state, as opaque bytes that a cache
// stores and gives back unchanged: the ticket the server issued and the
// client's secret state for it. State holds secrets; store it as a
// private key is stored.
type Session struct {
	Ticket []byte
	State  []byte
}

// SessionCache keeps resumption state between connections, by a key the
// client chooses (derived from the server name).
//
// Implementations must be safe for concurrent use.
type SessionCache interface {
	// Get returns the session saved under key.
	Get(key string) (Session, bool)
	// Put saves s under key, replacing what was there; a Session with no
	// Ticket forgets key.
	Put(key string, s Session)
}

// Credentials is a selection of credentials that a client consults during
// every handshake, so that a change to them applies to the next connection.
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
	SessionCache() SessionCache
}
