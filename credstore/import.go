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
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tlsapp/tlsapp/trust"
)

// ErrKeyMismatch is wrapped by errors about a private key that does not
// belong to a certificate.
var ErrKeyMismatch = errors.New("credstore: the private key does not match the certificate")

// ErrReservedTag is returned by Import and ImportKeyPair for tag 0, which
// names anchors that did not come from a store (trust.NoTag).
var ErrReservedTag = errors.New("credstore: tag 0 is reserved (it names anchors that are not from a store)")

// ErrMalformed is wrapped by errors about input that is not a well-formed
// certificate or private key of the kind asked for: an empty file, bad DER,
// a PEM block that is cut short or not base64, an END line without its
// BEGIN, binary bytes between PEM blocks, or a PEM block of another type.
var ErrMalformed = errors.New("credstore: malformed")

// ImportError reports input that Import or ImportKeyPair refused. Nothing
// was written.
type ImportError struct {
	Name string // the file the input came from
	Ref  Ref    // where it was to be stored
	Err  error  // what is wrong with it
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("credstore: %s (importing as %v): %s", e.Name, e.Ref, strings.TrimPrefix(e.Err.Error(), "credstore: "))
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
// PEM is read strictly: every block must decode, so that a bundle with one
// damaged certificate is refused rather than stored without it. Text outside
// the blocks (the explanatory text of RFC 7468) is allowed; binary bytes are
// not. Errors about the form of the input wrap ErrMalformed.
//
// Certificates are not checked against the clock: a device's clock may be
// unset when it is provisioned, and a new root is often stored before it is
// valid. An expired or not yet valid certificate is stored, and a connection
// that relies on it fails verification with an x509.CertificateInvalidError
// naming it (see NoAnchorError). Callers that trust their clock can refuse
// such certificates first with CheckValidity.
//
// Input longer than MaxSize is refused with an error wrapping ErrTooLarge;
// ReadFile reads a file with that limit, refusing FIFOs and devices.
//
// Everything is checked before anything is written, so on error the store is
// unchanged. Problems with the input are reported as an *ImportError naming
// the file and where it was to be stored.
//
// The check against the stored certificate or key and the write are one
// step: Import holds the store's lock (see Locker) while it does both.
func Import(ctx context.Context, s Store, tag Tag, kind Kind, name string, data []byte) error {
	ref := Ref{tag, kind}
	if tag == trust.NoTag {
		return &ImportError{name, ref, ErrReservedTag}
	}
	unlock, err := lockStore(ctx, s)
	if err != nil {
		return err
	}
	defer unlock()
	var value []byte
	switch kind {
	case CACert, ClientCert:
		certs, err := parseCerts(data)
		if err != nil {
			return &ImportError{name, ref, err}
		}
		if kind == CACert {
			for _, c := range certs {
				if !c.IsCA {
					return &ImportError{name, ref, fmt.Errorf("%q is not a CA certificate", c.Subject)}
				}
			}
		} else {
			if err := matchStoredKey(ctx, s, tag, certs[0]); err != nil {
				return &ImportError{name, ref, err}
			}
		}
		value = encodeCerts(certs)
	case PrivateKey:
		key, err := parseKey(data)
		if err != nil {
			return &ImportError{name, ref, err}
		}
		if err := matchStoredCert(ctx, s, tag, key); err != nil {
			return &ImportError{name, ref, err}
		}
		if value, err = encodeKey(key); err != nil {
			return &ImportError{name, ref, err}
		}
	default:
		return &ImportError{name, ref, fmt.Errorf("cannot import a credential of kind %v (want ca, cert or key)", kind)}
	}
	return s.Put(ctx, ref, value)
}

// ImportKeyPair stores a client certificate chain and its private key under
// tag, replacing both. It checks both files and that the key belongs to the
// leaf certificate, then writes the key first and the certificate second, so
// that a stored certificate always has its key. If writing the certificate
// fails, the old key is put back (or the new one removed, if there was none);
// if that fails too, the error says so.
//
// The pair replaces both at once for every other importer: ImportKeyPair
// holds the store's lock (see Locker) from before it reads the old key until
// both are written, so two imports into one tag, in one process or (with
// the directory store) in two, leave one pair or the other, whole. The
// memory and directory stores (and Encrypted over them) also replace the
// pair as one step against a crash: the directory store first makes the
// old pair durable in an undo file in the tag's folder, and a write cut
// short is undone by the next OpenDir or lock of the store. A reader that
// does not take the lock can see the new key beside the old certificate for
// the moment between the two writes; LoadKeyPair then reads both again
// under the lock.
func ImportKeyPair(ctx context.Context, s Store, tag Tag, certName string, certData []byte, keyName string, keyData []byte) error {
	certRef, keyRef := Ref{tag, ClientCert}, Ref{tag, PrivateKey}
	if tag == trust.NoTag {
		return &ImportError{certName, certRef, ErrReservedTag}
	}
	certs, err := parseCerts(certData)
	if err != nil {
		return &ImportError{certName, certRef, err}
	}
	key, err := parseKey(keyData)
	if err != nil {
		return &ImportError{keyName, keyRef, err}
	}
	if !samePublicKey(key.Public(), certs[0].PublicKey) {
		return &ImportError{keyName, keyRef, fmt.Errorf("%w %q in %s", ErrKeyMismatch, certs[0].Subject, certName)}
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return &ImportError{keyName, keyRef, err}
	}
	unlock, err := lockStore(ctx, s)
	if err != nil {
		return err
	}
	defer unlock()
	return putPair(ctx, s, tag, keyPEM, encodeCerts(certs))
}

// putPair writes a tag's key and certificate as one step if s can (see
// pairPutter), or else in turn: the key first, then the certificate, and on
// failure the old key back. The caller holds s's lock.
func putPair(ctx context.Context, s Store, tag Tag, key, cert []byte) error {
	if pp, ok := s.(pairPutter); ok {
		return pp.putPair(ctx, tag, key, cert)
	}
	certRef, keyRef := Ref{tag, ClientCert}, Ref{tag, PrivateKey}
	old, err := s.Get(ctx, keyRef)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.Put(ctx, keyRef, key); err != nil {
		return err
	}
	if err := s.Put(ctx, certRef, cert); err != nil {
		undo := context.WithoutCancel(ctx)
		var uerr error
		if old != nil {
			if uerr = s.Put(undo, keyRef, old); uerr != nil {
				uerr = fmt.Errorf("credstore: the new key of tag %d is stored but its certificate is not, and the old key could not be put back: %w", tag, uerr)
			}
		} else if uerr = s.Delete(undo, keyRef); uerr != nil {
			uerr = fmt.Errorf("credstore: the new key of tag %d is stored but its certificate is not, and it could not be removed: %w", tag, uerr)
		}
		return errors.Join(err, uerr)
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
		return fmt.Errorf("%w: %q is not the certificate of the key stored under tag %d (import the certificate and its key together to replace both)", ErrKeyMismatch, cert.Subject, tag)
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
		return fmt.Errorf("%w %q stored under tag %d (import the certificate and its key together to replace both)", ErrKeyMismatch, certs[0].Subject, tag)
	}
	return nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

var pemBegin = []byte("-----BEGIN")

// pemBlocks decodes every PEM block in data. pem.Decode alone skips what it
// cannot decode, so a bundle whose second certificate is damaged would lose
// it without a word; here a block that does not decode, an END line without
// its BEGIN and binary bytes outside the blocks are errors wrapping
// ErrMalformed. Text outside the blocks is allowed (RFC 7468 s5.2).
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		i := bytes.Index(rest, pemBegin)
		if i < 0 {
			return blocks, checkPEMText(rest, len(blocks))
		}
		if err := checkPEMText(rest[:i], len(blocks)); err != nil {
			return nil, err
		}
		rest = rest[i:]
		// A block ends before the next BEGIN line: one that runs into
		// it has lost its END line.
		end := len(rest)
		if j := bytes.Index(rest[1:], pemBegin); j >= 0 {
			end = j + 1
		}
		block, after := pem.Decode(rest[:end])
		if block == nil {
			return nil, malformedBlock(rest[:end], len(blocks)+1)
		}
		blocks = append(blocks, block)
		rest = rest[end-len(after):]
	}
}

// checkPEMText checks text found outside PEM blocks, after block n.
func checkPEMText(text []byte, n int) error {
	where := "before the first PEM block"
	if n > 0 {
		where = fmt.Sprintf("after PEM block %d", n)
	}
	if bytes.Contains(text, []byte("-----END")) {
		return fmt.Errorf("%w PEM: an END line without its BEGIN line %s", ErrMalformed, where)
	}
	if !utf8.Valid(text) || bytes.ContainsFunc(text, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }) {
		return fmt.Errorf("%w PEM: binary data %s (a damaged file, or PEM and DER mixed?)", ErrMalformed, where)
	}
	return nil
}

// malformedBlock says why block, the nth, does not decode.
func malformedBlock(block []byte, n int) error {
	line, _, _ := bytes.Cut(block, []byte("\n"))
	typ := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(line)), "-----BEGIN "), "-----"))
	if len(typ) > 40 {
		typ = typ[:40] + "..."
	}
	if !bytes.Contains(block, []byte("-----END")) {
		return fmt.Errorf("%w PEM: block %d (%q) is cut short: no END line", ErrMalformed, n, typ)
	}
	return fmt.Errorf("%w PEM: block %d (%q) does not decode: bad base64, a bad header line or an END line of another type", ErrMalformed, n, typ)
}

// parseCerts reads PEM certificates, or one DER certificate.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("input: %w: %d bytes", ErrTooLarge, len(data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w input: empty, no certificate in it", ErrMalformed)
	}
	if !bytes.Contains(data, pemBegin) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%w input: not a PEM or DER certificate: %v", ErrMalformed, err)
		}
		return []*x509.Certificate{c}, nil
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, block := range blocks {
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w PEM: unexpected PEM block %d %q (want CERTIFICATE)", ErrMalformed, i+1, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w certificate: PEM block %d: %v", ErrMalformed, i+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w PEM: no certificate found", ErrMalformed)
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
// EC PARAMETERS blocks (which openssl ecparam writes first) are skipped; any
// other block beside the one key is refused.
func parseKey(data []byte) (crypto.Signer, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("input: %w: %d bytes", ErrTooLarge, len(data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w input: empty, no private key in it", ErrMalformed)
	}
	der := data
	if bytes.Contains(data, pemBegin) {
		blocks, err := pemBlocks(data)
		if err != nil {
			return nil, err
		}
		der = nil
		for i, block := range blocks {
			switch {
			case block.Type == "EC PARAMETERS":
				continue
			case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
				return nil, errors.New("the private key is encrypted; decrypt it first")
			case block.Type == "PRIVATE KEY" || block.Type == "EC PRIVATE KEY" || block.Type == "RSA PRIVATE KEY":
				if der != nil {
					return nil, fmt.Errorf("%w PEM: more than one private key (block %d is another %q)", ErrMalformed, i+1, block.Type)
				}
				der = block.Bytes
			default:
				return nil, fmt.Errorf("%w PEM: unexpected PEM block %d %q (want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", ErrMalformed, i+1, block.Type)
			}
		}
		if der == nil {
			return nil, fmt.Errorf("%w PEM: no private key block found", ErrMalformed)
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
	return nil, fmt.Errorf("%w input: not a PKCS#8, SEC1 or PKCS#1 private key", ErrMalformed)
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
//
// A certificate that does not match the key may be an ImportKeyPair caught
// between its two writes: LoadKeyPair then reads both again holding the
// store's lock, and reports ErrKeyMismatch only if they still differ.
func LoadKeyPair(ctx context.Context, s Store, tag Tag) (tls.Certificate, error) {
	c, err := loadKeyPair(ctx, s, tag)
	if !errors.Is(err, ErrKeyMismatch) {
		return c, err
	}
	unlock, lerr := lockStore(ctx, s)
	if lerr != nil {
		return tls.Certificate{}, errors.Join(err, lerr)
	}
	defer unlock()
	return loadKeyPair(ctx, s, tag)
}

func loadKeyPair(ctx context.Context, s Store, tag Tag) (tls.Certificate, error) {
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

// ValidityError reports a certificate outside its validity period.
type ValidityError struct {
	Subject   string    // the certificate's subject
	NotBefore time.Time // the start of its validity period
	NotAfter  time.Time // the end of its validity period
	At        time.Time // the time it was checked at
}

func (e *ValidityError) Error() string {
	state := "has expired"
	if e.At.Before(e.NotBefore) {
		state = "is not valid yet"
	}
	const layout = "2006-01-02 15:04:05 MST"
	return fmt.Sprintf("credstore: certificate %q %s: valid from %s to %s, checked at %s", e.Subject, state,
		e.NotBefore.UTC().Format(layout), e.NotAfter.UTC().Format(layout), e.At.UTC().Format(layout))
}

// Expired reports whether the certificate had expired (rather than not yet
// started) at the time it was checked.
func (e *ValidityError) Expired() bool { return e.At.After(e.NotAfter) }

// validity returns a *ValidityError if c is not valid at t, and nil if it is.
func validity(c *x509.Certificate, t time.Time) *ValidityError {
	if t.Before(c.NotBefore) || t.After(c.NotAfter) {
		return &ValidityError{Subject: c.Subject.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter, At: t}
	}
	return nil
}

// CheckValidity reads certificates as Import does and returns a
// *ValidityError for each one that is not valid at t (joined, in the order
// of data), nil if all are, or the error Import would give for data that
// holds no certificates. Import does not call it (see Import); a tool that
// provisions devices from a host whose clock is right can, to refuse
// certificates that have expired or are not yet valid.
func CheckValidity(data []byte, t time.Time) error {
	certs, err := parseCerts(data)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range certs {
		if err := validity(c, t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
