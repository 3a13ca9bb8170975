package credstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// ErrKeyMismatch is wrapped by errors about a private key that does not
// belong to a certificate.
var ErrKeyMismatch = errors.New("credstore: the private key does not match the certificate")

// ImportError reports input that Import or ImportKeyPair refused. Nothing
// was written.
type ImportError struct {
	Name string // the file the input came from
	Err  error  // what is wrong with it
}

func (e *ImportError) Error() string {
	return "credstore: " + e.Name + ": " + strings.TrimPrefix(e.Err.Error(), "credstore: ")
}

// Unwrap returns the problem found in the file.
func (e *ImportError) Unwrap() error { return e.Err }

// Import stores the credential in data, read from the file called name,
// under tag as kind (CACert, ClientCert or PrivateKey).
//
// Certificates may be PEM (one or many) or DER (one); CA certificates must
// be CA certificates, and a client certificate chain starts with the leaf.
// Keys may be PKCS#8, SEC1 or PKCS#1, PEM or DER; they are stored as PKCS#8
// PEM. A client certificate and its key must match: importing one that does
// not match the other already stored under tag fails with ErrKeyMismatch
// (use ImportKeyPair to replace both).
//
// Everything is checked before anything is written, so on error the store is
// unchanged. Problems with the input are reported as an *ImportError naming
// the file.
func Import(ctx context.Context, s Store, tag Tag, kind Kind, name string, data []byte) error {
	var value []byte
	switch kind {
	case CACert, ClientCert:
		certs, err := parseCerts(data)
		if err != nil {
			return &ImportError{name, err}
		}
		if kind == CACert {
			for _, c := range certs {
				if !c.IsCA {
					return &ImportError{name, fmt.Errorf("%q is not a CA certificate", c.Subject)}
				}
			}
		} else {
			if err := matchStoredKey(ctx, s, tag, certs[0]); err != nil {
				return &ImportError{name, err}
			}
		}
		value = encodeCerts(certs)
	case PrivateKey:
		key, err := parseKey(data)
		if err != nil {
			return &ImportError{name, err}
		}
		if err := matchStoredCert(ctx, s, tag, key); err != nil {
			return &ImportError{name, err}
		}
		if value, err = encodeKey(key); err != nil {
			return &ImportError{name, err}
		}
	default:
		return &ImportError{name, fmt.Errorf("cannot import a credential of kind %v (want ca, cert or key)", kind)}
	}
	return s.Put(ctx, Ref{tag, kind}, value)
}

// ImportKeyPair stores a client certificate chain and its private key under
// tag, replacing both. It checks both files and that the key belongs to the
// leaf certificate, then writes the key first and the certificate second, so
// that a stored certificate always has its key. If writing the certificate
// fails, the old key is put back.
func ImportKeyPair(ctx context.Context, s Store, tag Tag, certName string, certData []byte, keyName string, keyData []byte) error {
	certs, err := parseCerts(certData)
	if err != nil {
		return &ImportError{certName, err}
	}
	key, err := parseKey(keyData)
	if err != nil {
		return &ImportError{keyName, err}
	}
	if !samePublicKey(key.Public(), certs[0].PublicKey) {
		return &ImportError{keyName, fmt.Errorf("%w %q in %s", ErrKeyMismatch, certs[0].Subject, certName)}
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return &ImportError{keyName, err}
	}
	keyRef := Ref{tag, PrivateKey}
	old, err := s.Get(ctx, keyRef)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.Put(ctx, keyRef, keyPEM); err != nil {
		return err
	}
	if err := s.Put(ctx, Ref{tag, ClientCert}, encodeCerts(certs)); err != nil {
		undo := context.WithoutCancel(ctx)
		if old != nil {
			s.Put(undo, keyRef, old)
		} else {
			s.Delete(undo, keyRef)
		}
		return err
	}
	return nil
}

// matchStoredKey checks cert against the private key stored under tag, if any.
func matchStoredKey(ctx context.Context, s Store, tag Tag, cert *x509.Certificate) error {
	key, err := Signer(ctx, s, tag)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !samePublicKey(key.Public(), cert.PublicKey) {
		return fmt.Errorf("%w: %q is not the certificate of the key stored under tag %d", ErrKeyMismatch, cert.Subject, tag)
	}
	return nil
}

// matchStoredCert checks key against the client certificate stored under
// tag, if any.
func matchStoredCert(ctx context.Context, s Store, tag Tag, key crypto.Signer) error {
	b, err := s.Get(ctx, Ref{tag, ClientCert})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	certs, err := parseCerts(b)
	if err != nil {
		return fmt.Errorf("the stored certificate of tag %d: %w", tag, err)
	}
	if !samePublicKey(key.Public(), certs[0].PublicKey) {
		return fmt.Errorf("%w %q stored under tag %d (use ImportKeyPair to replace both)", ErrKeyMismatch, certs[0].Subject, tag)
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// parseCerts reads PEM certificates, or one DER certificate.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("not a PEM or DER certificate: %v", err)
		}
		return []*x509.Certificate{c}, nil
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q (want CERTIFICATE)", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found (malformed PEM?)")
	}
	return certs, nil
}

func encodeCerts(certs []*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// parseKey reads a PKCS#8, SEC1 or PKCS#1 private key, PEM or DER. In PEM,
// EC PARAMETERS blocks (which openssl ecparam writes first) are skipped.
func parseKey(data []byte) (crypto.Signer, error) {
	der := data
	if bytes.Contains(data, []byte("-----BEGIN")) {
		der = nil
		for rest := data; der == nil; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				return nil, errors.New("malformed PEM: no private key block found")
			}
			switch {
			case block.Type == "EC PARAMETERS":
				continue
			case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
				return nil, errors.New("the private key is encrypted; decrypt it first")
			case block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" || block.Type == "RSA PRIVATE KEY":
				der = block.Bytes
			default:
				return nil, fmt.Errorf("unexpected PEM block %q (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", block.Type)
			}
		}
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *ecdsa.PrivateKey:
			return k, nil
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, SEC1 or PKCS#1 private key")
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadKeyPair returns the client certificate chain and private key stored
// under tag, for tls.Config.Certificates. The key comes from Signer, so a
// key on a hardware token stays there.
func LoadKeyPair(ctx context.Context, s Store, tag Tag) (tls.Certificate, error) {
	certPEM, err := s.Get(ctx, Ref{tag, ClientCert})
	if err != nil {
		return tls.Certificate{}, err
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("credstore: %v: %w", Ref{tag, ClientCert}, err)
	}
	key, err := Signer(ctx, s, tag)
	if err != nil {
		return tls.Certificate{}, err
	}
	if !samePublicKey(key.Public(), certs[0].PublicKey) {
		return tls.Certificate{}, fmt.Errorf("%w stored under tag %d", ErrKeyMismatch, tag)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}
