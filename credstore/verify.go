package credstore

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/trust"
)

// ErrPinMismatch is wrapped by the reason an anchor gives when it verified
// a chain but the chain holds none of its tag's pinned keys.
var ErrPinMismatch = errors.New("credstore: no key in the chain matches the tag's pins")

// Verifier verifies servers against every CA certificate of a set of tags at
// once. It implements trust.Verifier and is safe for concurrent use.
type Verifier struct {
	anchors []anchor // in the order of the tags, then of the bundles
	pool    *x509.CertPool
	pins    map[Tag]map[[32]byte]bool
}

type anchor struct {
	tag  Tag
	cert *x509.Certificate
}

// NewVerifier loads the CA certificates of tags from s. Tags without CA
// certificates are skipped; having none at all is an error wrapping
// ErrNotFound. Later changes to s are not seen: make a new Verifier.
func NewVerifier(ctx context.Context, s Store, tags ...Tag) (*Verifier, error) {
	v := &Verifier{pool: x509.NewCertPool()}
	for _, tag := range tags {
		b, err := s.Get(ctx, Ref{tag, CACert})
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		certs, err := parseCerts(b)
		if err != nil {
			return nil, fmt.Errorf("credstore: %v: %w", Ref{tag, CACert}, err)
		}
		for _, c := range certs {
			v.anchors = append(v.anchors, anchor{tag, c})
			v.pool.AddCert(c)
		}
	}
	if len(v.anchors) == 0 {
		return nil, fmt.Errorf("%w: no CA certificate under tags %v", ErrNotFound, tags)
	}
	return v, nil
}

// SPKIHash returns the SHA-256 digest of cert's SubjectPublicKeyInfo: the
// value WithPins takes.
func SPKIHash(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.RawSubjectPublicKeyInfo) }

// WithPins returns a copy of v in which a chain verified by an anchor of
// tag counts only if one of its certificates (leaf, intermediate or the
// anchor itself) has a public key whose SPKIHash is among pins. Anchors of
// other tags are not affected. Calling it again for the same tag adds pins.
func (v *Verifier) WithPins(tag Tag, pins ...[32]byte) *Verifier {
	w := *v
	w.pins = maps.Clone(v.pins)
	if w.pins == nil {
		w.pins = map[Tag]map[[32]byte]bool{}
	}
	set := maps.Clone(w.pins[tag])
	if set == nil {
		set = map[[32]byte]bool{}
	}
	for _, p := range pins {
		set[p] = true
	}
	w.pins[tag] = set
	return &w
}

// Verify verifies chain (leaf first, as the server sent it) for serverName
// against all the anchors at once, with the hostname, validity period (at
// now) and key usage checks of x509.Certificate.Verify. It returns every
// distinct anchor, with its tag, that ends a verified chain (several when
// roots are cross-signed or a root is stored under several tags), in the
// order the anchors were loaded. When none does, it returns a
// *NoAnchorError saying why for each anchor. It implements trust.Verifier;
// ctx is not needed, the anchors being loaded already.
func (v *Verifier) Verify(_ context.Context, serverName string, chain []*x509.Certificate, now time.Time) ([]trust.Anchor, error) {
	if len(chain) == 0 {
		return nil, errors.New("credstore: the server sent no certificate")
	}
	opts := x509.VerifyOptions{
		CurrentTime:   now,
		DNSName:       serverName,
		Roots:         v.pool,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		return nil, v.explain(opts, chain[0], err)
	}
	ok := make([]bool, len(v.anchors))
	for _, ch := range chains {
		root := ch[len(ch)-1]
		for i, a := range v.anchors {
			if a.cert.Equal(root) && v.pinned(a.tag, ch) {
				ok[i] = true
			}
		}
	}
	var out []trust.Anchor
	for i, a := range v.anchors {
		if ok[i] {
			out = append(out, trust.AnchorOf(a.tag, a.cert))
		}
	}
	if len(out) == 0 {
		return nil, v.explain(opts, chain[0], fmt.Errorf("%w: every verified chain failed its tag's pins", ErrPinMismatch))
	}
	return out, nil
}

// pinned reports whether chain satisfies tag's pins, if it has any.
func (v *Verifier) pinned(tag Tag, chain []*x509.Certificate) bool {
	pins := v.pins[tag]
	if len(pins) == 0 {
		return true
	}
	return slices.ContainsFunc(chain, func(c *x509.Certificate) bool { return pins[SPKIHash(c)] })
}

// explain verifies leaf against each anchor alone to say why each failed.
func (v *Verifier) explain(opts x509.VerifyOptions, leaf *x509.Certificate, err error) error {
	e := &NoAnchorError{ServerName: opts.DNSName, Err: namedValidity(err, opts.CurrentTime)}
	for _, a := range v.anchors {
		opts.Roots = x509.NewCertPool()
		opts.Roots.AddCert(a.cert)
		chains, why := leaf.Verify(opts)
		if why == nil && !slices.ContainsFunc(chains, func(ch []*x509.Certificate) bool { return v.pinned(a.tag, ch) }) {
			why = fmt.Errorf("%w of tag %d", ErrPinMismatch, a.tag)
		}
		if why == nil {
			continue // cannot happen: it would have verified the chain
		}
		e.Tried = append(e.Tried, AnchorFailure{Anchor: trust.AnchorOf(a.tag, a.cert), Err: namedValidity(why, opts.CurrentTime)})
	}
	return e
}

// namedValidity adds to an x509 expiry error a *ValidityError naming the
// certificate and its validity period, which x509's message leaves out.
func namedValidity(err error, at time.Time) error {
	var ci x509.CertificateInvalidError
	if !errors.As(err, &ci) || ci.Reason != x509.Expired || ci.Cert == nil {
		return err
	}
	if at.IsZero() {
		at = time.Now()
	}
	if ve := validity(ci.Cert, at); ve != nil {
		return fmt.Errorf("%w (%w)", err, ve)
	}
	return err
}

// AnchorFailure is one anchor that did not verify a server, and why.
type AnchorFailure struct {
	Anchor trust.Anchor
	Err    error
}

// NoAnchorError reports a server chain that no anchor verified.
type NoAnchorError struct {
	ServerName string          // the name the chain was checked for
	Err        error           // the error against all anchors together
	Tried      []AnchorFailure // every anchor, alone, and why it failed
}

func (e *NoAnchorError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credstore: no trust anchor verifies %s: %v", e.ServerName, e.Err)
	for _, t := range e.Tried {
		fmt.Fprintf(&b, "; tag %d %q: %v", t.Anchor.Tag, t.Anchor.Subject, t.Err)
	}
	return b.String()
}

// Unwrap returns the error against all anchors and each anchor's error, so
// that errors.As finds an x509.UnknownAuthorityError, x509.HostnameError or
// x509.CertificateInvalidError among them.
func (e *NoAnchorError) Unwrap() []error {
	errs := []error{e.Err}
	for _, t := range e.Tried {
		errs = append(errs, t.Err)
	}
	return errs
}
