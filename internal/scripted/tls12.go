package scripted

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/crypto/cryptobyte"

	"github.com/tlsapp/tlsapp/internal/guard"
	"github.com/tlsapp/tlsapp/internal/tls12"
	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Server12 is a TLS 1.2 HTTPS server that does only
// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 with X25519, in a full handshake,
// and answers the record-size extensions as told: the kind of embedded
// server (mbedTLS 2.28) that speaks TLS 1.2 only, echoes
// max_fragment_length and then sends its Certificate in one record
// whatever was agreed. Each connection answers one HTTP request with a 200
// and Body, and closes.
type Server12 struct {
	// Chain is the certificate chain (DER, leaf first), Key the leaf's
	// ECDSA P-256 key.
	Chain [][]byte
	Key   crypto.Signer
	// AnswerMFL echoes an offered max_fragment_length, which then caps
	// every record the server sends, but see WholeCertificate.
	AnswerMFL bool
	// AnswerRSL, when not 0, answers an offered record_size_limit with this
	// limit of the server's own; the client's limit then caps the server's
	// protected records (not its plaintext handshake, RFC 8449).
	AnswerRSL int
	// WholeCertificate sends the Certificate message in one record,
	// whatever limit was agreed (mbedTLS's way).
	WholeCertificate bool
	// MaxRecord caps the content of the records sent when nothing smaller
	// was agreed (0: 16384).
	MaxRecord int
	// Body is the answer's body.
	Body []byte
}

// alertProtocolVersion is the alert a TLS 1.2-only server answers a TLS
// 1.3-only ClientHello with.
const alertProtocolVersion = 70

// Serve runs the server on one connection.
func (c *Server12) Serve(s *Session) error {
	if err := s.ReadClientHello(); err != nil {
		return err
	}
	if v, ok := s.Ext(extSupportedVersions); ok && !offersVersion(v, 0x0303) {
		return s.SendRecord(recordlimit.TypeAlert, []byte{2, alertProtocolVersion})
	}
	clientRandom := append([]byte(nil), s.HelloMsg[6:6+32]...)
	plainLimit, protLimit := recordlimit.MaxPlaintext, recordlimit.MaxPlaintext
	if c.MaxRecord > 0 {
		protLimit = c.MaxRecord
	}
	var exts []wire.Extension
	if d, ok := s.Ext(1); ok && c.AnswerMFL && len(d) == 1 && d[0] >= 1 && d[0] <= 4 {
		exts = append(exts, wire.Extension{Type: 1, Data: d})
		plainLimit, protLimit = 256<<d[0], min(protLimit, 256<<d[0])
	}
	if d, ok := s.Ext(28); ok && c.AnswerRSL > 0 && len(d) == 2 {
		exts = append(exts, wire.Extension{Type: 28, Data: binary.BigEndian.AppendUint16(nil, uint16(c.AnswerRSL))})
		protLimit = min(protLimit, int(binary.BigEndian.Uint16(d)))
	}
	serverRandom := make([]byte, 32)
	rand.Read(serverRandom)
	sh := serverHello(serverRandom, nil, Suite12, exts)
	cert := certificateMessage12(c.Chain)
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ske, err := c.serverKeyExchange(clientRandom, serverRandom, priv.PublicKey().Bytes())
	if err != nil {
		return err
	}
	done := []byte{14, 0, 0, 0}
	transcript := append(append(append(append(append([]byte(nil), s.HelloMsg...), sh...), cert...), ske...), done...)
	certLimit := plainLimit
	if c.WholeCertificate {
		certLimit = len(cert)
	}
	var out []byte
	out = guard.AppendRecords(out, recordlimit.TypeHandshake, 0x0303, sh, plainLimit)
	out = guard.AppendRecords(out, recordlimit.TypeHandshake, 0x0303, cert, certLimit)
	out = guard.AppendRecords(out, recordlimit.TypeHandshake, 0x0303, append(ske, done...), plainLimit)
	if _, err := s.Conn.Write(out); err != nil {
		return err
	}

	// ClientKeyExchange, ChangeCipherSpec, Finished.
	cke, err := readHandshake12(s, 16)
	if err != nil {
		return err
	}
	in := cryptobyte.String(cke[4:])
	var pub cryptobyte.String
	if !in.ReadUint8LengthPrefixed(&pub) || !in.Empty() {
		return errors.New("malformed ClientKeyExchange")
	}
	peer, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return err
	}
	pre, err := priv.ECDH(peer)
	if err != nil {
		return err
	}
	master := tls12.PRF(sha256.New, pre, "master secret", append(append([]byte(nil), clientRandom...), serverRandom...), 48)
	keys := tls12.KeyBlock(sha256.New, master, clientRandom, serverRandom, 16, 4)
	client, err := newGCM12(keys.ClientKey, keys.ClientIV)
	if err != nil {
		return err
	}
	server, err := newGCM12(keys.ServerKey, keys.ServerIV)
	if err != nil {
		return err
	}
	transcript = append(transcript, cke...)
	h, _, err := s.ReadRecord()
	if err != nil {
		return err
	}
	if h.Type != recordlimit.TypeChangeCipherSpec {
		return fmt.Errorf("expected ChangeCipherSpec, got %v", h.Type)
	}
	h, body, err := s.ReadRecord()
	if err != nil {
		return err
	}
	fin, err := client.open(h, body)
	if err != nil {
		return fmt.Errorf("client Finished: %w", err)
	}
	th := sha256.Sum256(transcript)
	want := append([]byte{20, 0, 0, 12}, tls12.PRF(sha256.New, master, "client finished", th[:], 12)...)
	if !bytes.Equal(fin, want) {
		return errors.New("client Finished does not verify")
	}
	transcript = append(transcript, fin...)
	th = sha256.Sum256(transcript)
	sfin := append([]byte{20, 0, 0, 12}, tls12.PRF(sha256.New, master, "server finished", th[:], 12)...)
	if err := s.SendRecord(recordlimit.TypeChangeCipherSpec, []byte{1}); err != nil {
		return err
	}
	if _, err := s.Conn.Write(server.seal(nil, recordlimit.TypeHandshake, sfin)); err != nil {
		return err
	}

	// One request, one answer.
	var req []byte
	for !bytes.Contains(req, []byte("\r\n\r\n")) && len(req) < 16<<10 {
		h, body, err := s.ReadRecord()
		if err != nil {
			return err
		}
		p, err := client.open(h, body)
		if err != nil {
			return err
		}
		if h.Type != recordlimit.TypeApplicationData {
			return nil // an alert: the client is gone
		}
		req = append(req, p...)
	}
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "+
		strconv.Itoa(len(c.Body))+"\r\nConnection: close\r\n\r\n"), c.Body...)
	out = out[:0]
	for len(resp) > 0 {
		n := min(len(resp), protLimit)
		out = server.seal(out, recordlimit.TypeApplicationData, resp[:n])
		resp = resp[n:]
		if len(out) >= 64<<10 {
			if _, err := s.Conn.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	out = server.seal(out, recordlimit.TypeAlert, []byte{1, 0}) // close_notify
	_, err = s.Conn.Write(out)
	return err
}

func offersVersion(ext []byte, v uint16) bool {
	in := cryptobyte.String(ext)
	var list cryptobyte.String
	if !in.ReadUint8LengthPrefixed(&list) {
		return false
	}
	for !list.Empty() {
		var x uint16
		if !list.ReadUint16(&x) {
			return false
		}
		if x == v {
			return true
		}
	}
	return false
}

func certificateMessage12(chain [][]byte) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typeCertificate)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, c := range chain {
				b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(c) })
			}
		})
	})
	return b.BytesOrPanic()
}

// serverKeyExchange signs the X25519 share pub for the two randoms.
func (c *Server12) serverKeyExchange(clientRandom, serverRandom, pub []byte) ([]byte, error) {
	params := append([]byte{3, 0x00, 0x1d, byte(len(pub))}, pub...)
	digest := sha256.Sum256(append(append(append([]byte(nil), clientRandom...), serverRandom...), params...))
	sig, err := c.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint8(12)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes(params)
		b.AddUint16(sigECDSAP256SHA256)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	})
	return b.Bytes()
}

// readHandshake12 reads one plaintext handshake message of type typ,
// whole in its record.
func readHandshake12(s *Session, typ uint8) ([]byte, error) {
	h, body, err := s.ReadRecord()
	if err != nil {
		return nil, err
	}
	if h.Type == recordlimit.TypeAlert && len(body) == 2 {
		return nil, &AlertReceived{Alert: recordlimit.Alert(body[1])}
	}
	if h.Type != recordlimit.TypeHandshake || len(body) < 4 || body[0] != typ || int(body[1])<<16|int(body[2])<<8|int(body[3]) != len(body)-4 {
		return nil, fmt.Errorf("expected handshake message %d whole in one record", typ)
	}
	return body, nil
}

// gcm12 protects one direction's TLS 1.2 AES-GCM records.
type gcm12 struct {
	aead cipher.AEAD
	salt []byte
	seq  uint64
}

func newGCM12(key, salt []byte) (*gcm12, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &gcm12{aead: a, salt: salt}, nil
}

func (g *gcm12) ad(typ recordlimit.ContentType, n int) []byte {
	ad := binary.BigEndian.AppendUint64(nil, g.seq)
	ad = append(ad, byte(typ), 3, 3)
	return binary.BigEndian.AppendUint16(ad, uint16(n))
}

// seal appends a protected record of type typ carrying content.
func (g *gcm12) seal(dst []byte, typ recordlimit.ContentType, content []byte) []byte {
	explicit := binary.BigEndian.AppendUint64(nil, g.seq)
	nonce := append(append([]byte(nil), g.salt...), explicit...)
	dst = wire.Header{Type: typ, Version: 0x0303, Len: 8 + len(content) + g.aead.Overhead()}.Append(dst)
	dst = append(dst, explicit...)
	dst = g.aead.Seal(dst, nonce, content, g.ad(typ, len(content)))
	g.seq++
	return dst
}

// open decrypts a protected record.
func (g *gcm12) open(h wire.Header, body []byte) ([]byte, error) {
	if len(body) < 8+g.aead.Overhead() {
		return nil, errors.New("protected record too short")
	}
	nonce := append(append([]byte(nil), g.salt...), body[:8]...)
	p, err := g.aead.Open(nil, nonce, body[8:], g.ad(h.Type, len(body)-8-g.aead.Overhead()))
	g.seq++
	return p, err
}
