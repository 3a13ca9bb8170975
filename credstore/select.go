package credstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"

	"github.com/tlsapp/tlsapp/trust"
)

// Selection is a choice of tags in a store, for tlsapp.Config.Credentials (a trust.Credentials):
//
//   - the server is verified against the CA certificates of every selected
//     tag at once, and the connection reports which anchor verified it;
//   - when the server asks for a client certificate, the first selected tag,
//     in order, that holds one supplies it with its key (a key on a PKCS#11
//     token signs there);
//   - with WithSessions, session state is kept in the store, so a device
//     that restarts resumes instead of paying for a full handshake.
//
// The store is read at each handshake: changes apply to the next connection.
// A Selection is safe for concurrent use; its With methods return copies.
type Selection struct {
	store    Store
	tags     []Tag
	pins     map[Tag][][32]byte
	sessions trust.SessionCache
}

// Select returns the selection of tags in s.
func Select(s Store, tags ...Tag) *Selection {
	return &Selection{store: s, tags: append([]Tag(nil), tags...)}
}

// WithPins returns a copy of sel in which an anchor of tag verifies a server
// only if its chain carries a certificate whose SubjectPublicKeyInfo has one
// of the SHA-256 digests pins (see SPKIHash and Verifier.WithPins). Calling
// it again for the same tag adds pins.
func (sel *Selection) WithPins(tag Tag, pins ...[32]byte) *Selection {
	c := *sel
	c.pins = maps.Clone(sel.pins)
	if c.pins == nil {
		c.pins = map[Tag][][32]byte{}
	}
	c.pins[tag] = append(append([][32]byte(nil), c.pins[tag]...), pins...)
	return &c
}

// WithSessions returns a copy of sel that keeps session state in the store
// under tag (see NewSessionCache).
func (sel *Selection) WithSessions(tag Tag) *Selection {
	c := *sel
	c.sessions = NewSessionCache(sel.store, tag)
	return &c
}

// Tags returns the selected tags, in order.
func (sel *Selection) Tags() []Tag { return append([]Tag(nil), sel.tags...) }

// Verifier loads the CA certificates of the selected tags into a Verifier,
// with the selection's pins. It fails with an error wrapping ErrNotFound
// when no selected tag holds a CA certificate.
func (sel *Selection) Verifier(ctx context.Context) (trust.Verifier, error) {
	v, err := NewVerifier(ctx, sel.store, sel.tags...)
	if err != nil {
		return nil, err
	}
	for tag, pins := range sel.pins {
		v = v.WithPins(tag, pins...)
	}
	return v, nil
}

// ClientCertificate returns the client certificate chain and key of the
// first selected tag that holds a client certificate, or nil and no error
// when none does. A tag holding a certificate without its key, or a key that
// does not match, is an error: the server asked, and the device cannot answer
// as it was provisioned to.
func (sel *Selection) ClientCertificate(ctx context.Context) (*tls.Certificate, error) {
	for _, tag := range sel.tags {
		if _, err := sel.store.Get(ctx, Ref{tag, ClientCert}); err != nil {
			if errors.Is(err, ErrNotFound) || errors.Is(err, errors.ErrUnsupported) {
				continue
			}
			return nil, err
		}
		cert, err := LoadKeyPair(ctx, sel.store, tag)
		if err != nil {
			return nil, fmt.Errorf("credstore: client certificate of tag %d: %w", tag, err)
		}
		return &cert, nil
	}
	return nil, nil
}

// SessionCache returns the cache WithSessions set up, or nil.
func (sel *Selection) SessionCache() trust.SessionCache { return sel.sessions }

var _ trust.Credentials = (*Selection)(nil)
