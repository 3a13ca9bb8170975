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
)

// ImportError reports input that Import refused; nothing was written.
type ImportError struct {
	Name   string // the file the input came from
	Reason string
}

func (e *ImportError) Error() string { return fmt.Sprintf("credstore: %s: %s", e.Name, e.Reason) }

// Import stores the credential in data, read from the file called name,
// under tag as kind. Certificates may be PEM (one or many) or DER (one);
// keys may be PKCS#8, SEC1 or PKCS#1, PEM or DER, and are stored as PKCS#8
// PEM. A client certificate and its key must match: importing one that does
// not match the other already stored under tag is refused (import the key
// first). Everything is checked before anything is written, so on error the
// store is unchanged.
func Import(ctx context.Context, s Store, tag Tag, kind Kind, name string, data []byte) error {
	var value []byte
	switch kind {
	case CACert, ClientCert:
		certs, err := parseCerts(data)
		if err != nil {
			return &ImportError{name, err.Error()}
		}
		if kind == CACert {
			for _, c := range certs {
				if !c.IsCA {
					return &ImportError{name, fmt.Sprintf("%q is not a CA certificate", c.Subject)}
				}
			}
		}
		if kind == ClientCert {
			if err := matchStored(ctx, s, tag, PrivateKey, certs[0].PublicKey); err != nil {
				return &ImportError{name, err.Error()}
			}
		}
		value = encodeCerts(certs)
	case PrivateKey:
		key, err := parseKey(data)
		if err != nil {
			return &ImportError{name, err.Error()}
		}
		if err := matchStored(ctx, s, tag, ClientCert, key.Public()); err != nil {
			return &ImportError{name, err.Error()}
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return &ImportError{name, err.Error()}
		}
		value = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	default:
		return &ImportError{name, fmt.Sprintf("cannot import kind %v", kind)}
	}
	return s.Put(ctx, Ref{tag, kind}, value)
}

// matchStored checks pub against the counterpart stored under tag, if any.
func matchStored(ctx context.Context, s Store, tag Tag, other Kind, pub crypto.PublicKey) error {
	b, err := s.Get(ctx, Ref{tag, other})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var stored crypto.PublicKey
	if other == PrivateKey {
		key, err := parseKey(b)
		if err != nil {
			return fmt.Errorf("the stored key of tag %d: %w", tag, err)
		}
		stored = key.Public()
	} else {
		certs, err := parseCerts(b)
		if err != nil {
			return fmt.Errorf("the stored certificate of tag %d: %w", tag, err)
		}
		stored = certs[0].PublicKey
	}
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(stored) {
		return fmt.Errorf("does not match the %v stored under tag %d", other, tag)
	}
	return nil
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
		return nil, errors.New("no certificate found")
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

// parseKey reads a PKCS#8, SEC1 or PKCS#1 private key, PEM or DER.
func parseKey(data []byte) (crypto.Signer, error) {
	der := data
	if block, _ := pem.Decode(data); block != nil {
		der = block.Bytes
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("malformed PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch k := k.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		}
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, SEC1 or PKCS#1 private key")
}

// LoadKeyPair returns the client certificate chain and key stored under tag.
func LoadKeyPair(ctx context.Context, s Store, tag Tag) (tls.Certificate, error) {
	certPEM, err := s.Get(ctx, Ref{tag, ClientCert})
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := s.Get(ctx, Ref{tag, PrivateKey})
	if err != nil {
		return tls.Certificate{}, err
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("credstore: tag %d certificate: %w", tag, err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("credstore: tag %d key: %w", tag, err)
	}
	out := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}
