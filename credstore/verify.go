package credstore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Verifier verifies servers against every CA certificate of a set of tags at
// once. It implements tlsapp.Verifier.
type Verifier struct {
	anchors []anchor
	pool    *x509.CertPool
}

type anchor struct {
	tag  Tag
	cert *x509.Certificate
}

// NewVerifier loads the CA certificates of tags from s. Tags without CA
// certificates are skipped; having none at all is an error.
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
			return nil, fmt.Errorf("credstore: CA certificates of tag %d: %w", tag, err)
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

// VerifyServer verifies chain (leaf first) for serverName against all the
// anchors at once, with the hostname and validity checks of
// x509.Certificate.Verify, and returns every distinct anchor that ends a
// verified chain. When none does, it returns a *NoAnchorError.
func (v *Verifier) VerifyServer(serverName string, chain []*x509.Certificate) ([]tlsapp.Anchor, error) {
	if len(chain) == 0 {
		return nil, errors.New("credstore: the server sent no certificate")
	}
	opts := x509.VerifyOptions{DNSName: serverName, Roots: v.pool, Intermediates: x509.NewCertPool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	chains, err := chain[0].Verify(opts)
	if err != nil {
		return nil, v.explain(opts, chain[0], err)
	}
	var out []tlsapp.Anchor
	seen := map[*x509.Certificate]bool{}
	for _, ch := range chains {
		root := ch[len(ch)-1]
		if seen[root] {
			continue
		}
		seen[root] = true
		for _, a := range v.anchors {
			if a.cert.Equal(root) {
				out = append(out, tlsapp.AnchorOf(uint32(a.tag), a.cert))
				break
			}
		}
	}
	return out, nil
}

// explain verifies leaf against each anchor alone to say why each failed.
func (v *Verifier) explain(opts x509.VerifyOptions, leaf *x509.Certificate, err error) error {
	e := &NoAnchorError{Server: opts.DNSName, Err: err}
	for _, a := range v.anchors {
		opts.Roots = x509.NewCertPool()
		opts.Roots.AddCert(a.cert)
		_, why := leaf.Verify(opts)
		e.Tried = append(e.Tried, AnchorFailure{Anchor: tlsapp.AnchorOf(uint32(a.tag), a.cert), Err: why})
	}
	return e
}

// AnchorFailure is one anchor that did not verify a server, and why.
type AnchorFailure struct {
	Anchor tlsapp.Anchor
	Err    error
}

// NoAnchorError reports a server chain that no anchor verified.
type NoAnchorError struct {
	Server string
	Err    error // the error against all anchors together
	Tried  []AnchorFailure
}

func (e *NoAnchorError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "credstore: no trust anchor verifies %s: %v", e.Server, e.Err)
	for _, t := range e.Tried {
		fmt.Fprintf(&b, "; tag %d %q: %v", t.Anchor.Tag, t.Anchor.Subject, t.Err)
	}
	return b.String()
}

// Unwrap returns the error against all anchors and each anchor's error.
func (e *NoAnchorError) Unwrap() []error {
	errs := []error{e.Err}
	for _, t := range e.Tried {
		errs = append(errs, t.Err)
	}
	return errs
}
