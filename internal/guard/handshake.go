package guard

import (
	"slices"

	"github.com/tlsapp/tlsapp/internal/wire"
	"github.com/tlsapp/tlsapp/recordlimit"
)

// Bounds on the handshake messages the guards follow, crypto/tls's (and
// utls's): 64 KiB for any message, 256 KiB for a Certificate once the
// version is known. A peer's message above its bound ends the handshake
// with decode_error before the stack allocates for it; crypto/tls would
// send internal_error.
const (
	maxHandshakeMessage   = 1 << 16
	maxCertificateMessage = wire.MaxCertificateMessage
)

// messageBound returns the longest body a handshake message of type typ may
// declare.
func messageBound(typ uint8) int {
	if typ == typeCertificate {
		return maxCertificateMessage
	}
	return maxHandshakeMessage
}

// follower follows handshake messages across and within records with
// bounded memory, for every guard and direction: it keeps a message's
// 4-byte header and at most the first keep bytes of its body (which start
// chooses per message), counts the rest, and refuses a message above
// messageBound before any of its body is kept.
type follower struct {
	hdr  [4]byte
	nhdr int    // header bytes seen of the current message
	typ  uint8  // the current message's type, once its header is whole
	n    int    // its declared body length
	got  int    // body bytes seen
	keep int    // body bytes to keep
	body []byte // the kept bytes; reused, never more than maxHandshakeMessage
	// scratch is a reused buffer for the content of a decrypted record.
	scratch []byte
}

// idle reports whether the follower sits at a message boundary.
func (f *follower) idle() bool { return f.nhdr == 0 }

// reset forgets the message being followed and the buffers.
func (f *follower) reset() {
	clear(f.scratch[:cap(f.scratch)]) // it held decrypted handshake bytes
	*f = follower{}
}

// feed walks b. For each message header within its bound it calls start,
// which returns how many body bytes to keep (at most maxHandshakeMessage)
// or an error; for each whole message it calls done with the kept bytes
// and what is left of b after the message. The first error ends the walk
// and is returned.
func (f *follower) feed(b []byte, start func(typ uint8, n int) (int, error), done func(typ uint8, body, rest []byte) error) error {
	for len(b) > 0 {
		if f.nhdr < 4 {
			k := copy(f.hdr[f.nhdr:], b)
			f.nhdr += k
			b = b[k:]
			if f.nhdr < 4 {
				return nil
			}
			f.typ = f.hdr[0]
			f.n = int(f.hdr[1])<<16 | int(f.hdr[2])<<8 | int(f.hdr[3])
			f.got = 0
			if limit := messageBound(f.typ); f.n > limit {
				return tooLarge(f.typ, f.n, limit)
			}
			keep, err := start(f.typ, f.n)
			if err != nil {
				return err
			}
			if keep > maxHandshakeMessage {
				panic("guard: internal error: a follower asked to keep more than a handshake message's bound")
			}
			f.keep = min(keep, f.n)
			f.body = slices.Grow(f.body[:0], f.keep)
		}
		k := min(len(b), f.n-f.got)
		if want := f.keep - len(f.body); want > 0 {
			f.body = append(f.body, b[:min(k, want)]...)
		}
		f.got += k
		b = b[k:]
		if f.got == f.n {
			f.nhdr = 0
			if err := done(f.typ, f.body, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipBodies is a start function for a follower that only needs the
// messages' types.
func skipBodies(uint8, int) (int, error) { return 0, nil }

// appendFragments appends content as records of at most max content bytes
// each (recordlimit.MaxPlaintext when max is not above zero): sealed with
// e, the inner content type typ, when e is not nil (TLS 1.3), else in the
// clear as records of type typ and version vers. Empty content yields one
// empty record. It is the one place where the guards split what they send.
func appendFragments(out []byte, e *Epoch, typ recordlimit.ContentType, vers uint16, content []byte, max int) []byte {
	if max <= 0 {
		max = recordlimit.MaxPlaintext
	}
	for {
		n := min(len(content), max)
		if e != nil {
			out = e.Seal(out, typ, content[:n])
		} else {
			out = wire.Header{Type: typ, Version: vers, Len: n}.Append(out)
			out = append(out, content[:n]...)
		}
		if content = content[n:]; len(content) == 0 {
			return out
		}
	}
}

// AppendRecords appends body as records of type typ and version vers, each
// carrying at most max bytes. An empty body yields one empty record.
func AppendRecords(b []byte, typ recordlimit.ContentType, vers uint16, body []byte, max int) []byte {
	return appendFragments(b, nil, typ, vers, body, max)
}

// newEpochPair derives the two Epochs a guard needs to rewrite the records
// of one direction of a TLS 1.3 handshake epoch: open, to read the records
// as the stack sealed them, and seal, to seal what it sends instead, each
// with its own sequence numbers.
func newEpochPair(suite uint16, secret []byte) (open, seal *Epoch, err error) {
	if open, err = NewEpoch(suite, secret); err != nil {
		return nil, nil, err
	}
	if seal, err = NewEpoch(suite, secret); err != nil {
		return nil, nil, err
	}
	return open, seal, nil
}
