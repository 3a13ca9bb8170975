package scripted

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/hkdf"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/tls13"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Handshake message types and code points Finish13 uses.
const (
	typeCertificate           uint8  = 11
	typeCertificateVerify     uint8  = 15
	typeFinished              uint8  = 20
	typeCompressedCertificate uint8  = 25
	extCompressCertificate    uint16 = 27
	sigECDSAP256SHA256        uint16 = 0x0403
)

// Compressor compresses a Certificate message for RFC 8879 with one
// algorithm (1 zlib, 2 brotli, 3 zstd).
type Compressor struct {
	Algorithm uint16
	Compress  func(plain []byte) ([]byte, error)
}

// Zstd and Brotli are the RFC 8879 compressors for the algorithms the
// client offers.
var (
	Zstd = &Compressor{Algorithm: 3, Compress: func(p []byte) ([]byte, error) {
		w, err := zstdEncoder()
		if err != nil {
			return nil, err
		}
		return w.EncodeAll(p, nil), nil
	}}
	Brotli = &Compressor{Algorithm: 2, Compress: func(p []byte) ([]byte, error) {
		var b bytes.Buffer
		w := brotli.NewWriter(&b)
		if _, err := w.Write(p); err != nil {
			return nil, err
		}
		err := w.Close()
		return b.Bytes(), err
	}}
)

// zstdEncoder is shared: an encoder allocates megabytes, and EncodeAll may
// be called concurrently.
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) { return zstd.NewWriter(nil) })

// OffersCompression reports whether the ClientHello offers certificate
// compression with algorithm alg.
func (s *Session) OffersCompression(alg uint16) bool {
	data, ok := s.Ext(extCompressCertificate)
	if !ok {
		return false
	}
	in := cryptobyte.String(data)
	var list cryptobyte.String
	if !in.ReadUint8LengthPrefixed(&list) {
		return false
	}
	for !list.Empty() {
		var a uint16
		if !list.ReadUint16(&a) {
			return false
		}
		if a == alg {
			return true
		}
	}
	return false
}

// Finish13 completes a TLS 1.3 handshake after SendServerHello13. It sends
// ee (an EncryptedExtensions message), the certificate chain (DER, leaf
// first) as a Certificate message, or as a CompressedCertificate when comp
// is not nil, a CertificateVerify signed with key (an ECDSA P-256 key), and
// Finished, one record each; then it reads the client's Finished and moves
// both directions to the application traffic keys (Complete13), for SendApp
// and ReadApp.
func (s *Session) Finish13(ee []byte, chain [][]byte, key crypto.Signer, comp *Compressor) error {
	msgs, err := s.Flight13(ee, chain, key, comp)
	if err != nil {
		return err
	}
	// The flight in one record each message, as many servers send it, and
	// in one transport write, as crypto/tls flushes it: written record by
	// record, a client that refuses the Certificate (and closes with the
	// rest unread, which resets the connection) could fail the script's
	// next write before the script has read the client's alert.
	var flight []byte
	for _, m := range msgs {
		flight = s.server.Seal(flight, recordlimit.TypeHandshake, m)
	}
	if _, err := s.Conn.Write(flight); err != nil {
		return err
	}
	return s.Complete13()
}

// Flight13 returns the server's TLS 1.3 flight after the ServerHello, as
// Finish13 describes it, without sending it: EncryptedExtensions,
// Certificate (or CompressedCertificate), CertificateVerify and Finished,
// entered in the transcript. The script sends them as it likes, then calls
// Complete13.
func (s *Session) Flight13(ee []byte, chain [][]byte, key crypto.Signer, comp *Compressor) ([][]byte, error) {
	if s.hsSecret == nil {
		return nil, errors.New("no handshake keys: send a TLS 1.3 ServerHello first")
	}
	cert, err := certificateMessage(chain, comp)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(append(append(append([]byte(nil), s.transcript...), ee...), cert...))
	signed := append(append(make([]byte, 0, 130), spaces64...), "TLS 1.3, server CertificateVerify\x00"...)
	digest := sha256.Sum256(append(signed, th[:]...))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing CertificateVerify: %w", err)
	}
	var b cryptobyte.Builder
	b.AddUint8(typeCertificateVerify)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(sigECDSAP256SHA256)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	})
	cv := b.BytesOrPanic()
	s.transcript = append(append(append(s.transcript, ee...), cert...), cv...)
	fin := finished(s.serverHS, s.transcript)
	s.transcript = append(s.transcript, fin...)
	return [][]byte{ee, cert, cv, fin}, nil
}

// Complete13 reads the client's Finished after the server's flight and
// moves both directions to the application traffic keys. A protected alert
// instead is an *AlertReceived, one in the clear a *ClearAlertError (see
// ReadAlert).
func (s *Session) Complete13() error {
	zeros := make([]byte, sha256.Size)
	empty := sha256.Sum256(nil)
	master := hkdf.Extract(sha256.New, zeros, tls13.ExpandLabel(sha256.New, s.hsSecret, "derived", empty[:], sha256.Size))
	th := sha256.Sum256(s.transcript)
	clientAP := tls13.ExpandLabel(sha256.New, master, "c ap traffic", th[:], sha256.Size)
	serverAP := tls13.ExpandLabel(sha256.New, master, "s ap traffic", th[:], sha256.Size)

	if err := s.readClientFinished(); err != nil {
		return err
	}
	var err error
	if s.client, err = guard.NewEpoch(Suite13, clientAP); err != nil {
		return err
	}
	s.server, err = guard.NewEpoch(Suite13, serverAP)
	return err
}

var spaces64 = []byte("                                                                ")

// certificateMessage encodes chain as a TLS 1.3 Certificate message, or,
// with comp, as a CompressedCertificate of it.
func certificateMessage(chain [][]byte, comp *Compressor) ([]byte, error) {
	var body cryptobyte.Builder
	body.AddUint8(0) // certificate_request_context
	body.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, c := range chain {
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
			b.AddUint16(0) // no extensions
		}
	})
	plain := body.BytesOrPanic()
	var b cryptobyte.Builder
	if comp == nil {
		b.AddUint8(typeCertificate)
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(plain) })
		return b.BytesOrPanic(), nil
	}
	packed, err := comp.Compress(plain)
	if err != nil {
		return nil, fmt.Errorf("compressing the certificate: %w", err)
	}
	b.AddUint8(typeCompressedCertificate)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(comp.Algorithm)
		b.AddUint24(uint32(len(plain)))
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(packed) })
	})
	return b.Bytes()
}

// finished returns a Finished message over transcript with the traffic
// secret's finished key.
func finished(secret, transcript []byte) []byte {
	th := sha256.Sum256(transcript)
	mac := hmac.New(sha256.New, tls13.ExpandLabel(sha256.New, secret, "finished", nil, sha256.Size))
	mac.Write(th[:])
	return append([]byte{typeFinished, 0, 0, sha256.Size}, mac.Sum(nil)...)
}

// readClientFinished reads the client's records until its Finished,
// skipping its ChangeCipherSpec.
func (s *Session) readClientFinished() error {
	for {
		h, body, err := s.ReadRecord()
		if err != nil {
			return err
		}
		switch h.Type {
		case recordlimit.TypeChangeCipherSpec:
			continue
		case recordlimit.TypeAlert:
			// The client has its handshake keys: see ClearAlertError.
			a, err := alertBody(body)
			if err != nil {
				return err
			}
			return &ClearAlertError{Alert: a}
		case recordlimit.TypeApplicationData:
			content, typ, err := s.client.Open(nil, append(h.Append(nil), body...))
			if err != nil {
				return fmt.Errorf("client handshake record: %w", err)
			}
			if typ == recordlimit.TypeAlert {
				a, err := alertBody(content)
				if err != nil {
					return err
				}
				return &AlertReceived{Alert: a}
			}
			if typ == recordlimit.TypeHandshake && len(content) > 0 && content[0] == typeFinished {
				return nil
			}
		default:
			return fmt.Errorf("unexpected %v record from the client", h.Type)
		}
	}
}

// CertServer returns a script that reads the ClientHello and completes a
// TLS 1.3 handshake presenting chain, signed with key: compressed with comp
// when the client offers comp's algorithm, as it is otherwise. Then it runs
// after, or, when after is nil, reads until the client hangs up.
func CertServer(chain [][]byte, key crypto.Signer, comp *Compressor, after func(*Session) error) func(*Session) error {
	return func(s *Session) error {
		if err := s.ReadClientHello(); err != nil {
			return err
		}
		use := comp
		if !s.OffersCompression(comp.Algorithm) {
			use = nil
		}
		if err := s.SendServerHello13(); err != nil {
			return err
		}
		if err := s.Finish13(EncryptedExtensions(), chain, key, use); err != nil {
			return err
		}
		if after != nil {
			return after(s)
		}
		_, err := io.Copy(io.Discard, s.Conn)
		return err
	}
}

// SendApp sends data as one application data record under the application
// traffic keys (after Finish13).
func (s *Session) SendApp(data []byte) error {
	return s.SendEncrypted(recordlimit.TypeApplicationData, data, 0)
}
