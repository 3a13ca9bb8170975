package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// An object file holds one version of one cached object:
//
//	header length     uint32
//	header            magic "tlsapp-edge-object/1"
//	                  key        uint16-prefixed (the decoded path)
//	                  etag       uint16-prefixed (the origin's strong entity tag, or empty)
//	                  modified   uint64, Unix seconds of Last-Modified (0: none)
//	                  created    uint64, Unix nanoseconds the fill started (orders versions)
//	                  type       uint16-prefixed Content-Type
//	                  encoding   uint16-prefixed Content-Encoding
//	body
//	trailer           body length uint64, SHA-256 of the body, magic "EDGEDONE"
//
// The trailer is written after the whole body, then the file is synced and
// renamed from its ".part" name: a file without a valid trailer whose length
// and hash match the body is never trusted.

const (
	objectMagic  = "tlsapp-edge-object/1"
	trailerMagic = "EDGEDONE"
	trailerLen   = 8 + sha256.Size + 8 // size, hash, magic
	// maxHeader bounds an object header: the fields are each bounded below.
	maxHeader   = 4 + len(objectMagic) + 4*(2+maxField) + 16
	maxField    = 4096
	maxKeyField = maxTarget
)

// errCorrupt matches an object file the cache does not trust: a bad header,
// a missing or wrong trailer, a length or hash that does not match.
var errCorrupt = errors.New("edge: corrupt or partial cache object")

// meta is what the cache keeps of an object besides its body.
type meta struct {
	key      string
	etag     string    // strong, with quotes; "" when the origin gave none
	modified time.Time // zero when the origin gave no Last-Modified
	created  time.Time
	ctype    string
	cenc     string
}

// encodeHeader returns the length-prefixed header of an object file.
func encodeHeader(m meta) ([]byte, error) {
	if len(m.key) > maxKeyField || len(m.etag) > maxField || len(m.ctype) > maxField || len(m.cenc) > maxField {
		return nil, fmt.Errorf("%w: a field is too long", errCorrupt)
	}
	var b cryptobyte.Builder
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddBytes([]byte(objectMagic))
		addString(b, m.key)
		addString(b, m.etag)
		b.AddUint64(unixSeconds(m.modified))
		b.AddUint64(uint64(m.created.UnixNano()))
		addString(b, m.ctype)
		addString(b, m.cenc)
	})
	return b.Bytes()
}

func addString(b *cryptobyte.Builder, s string) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func unixSeconds(t time.Time) uint64 {
	if t.IsZero() || t.Unix() <= 0 {
		return 0
	}
	return uint64(t.Unix())
}

// decodeHeader parses the header at the start of an object file and
// returns it with the header's length (where the body starts).
func decodeHeader(data []byte) (meta, int, error) {
	s := cryptobyte.String(data)
	var hlen uint32
	var h cryptobyte.String
	if !s.ReadUint32(&hlen) || int(hlen) > maxHeader || !s.ReadBytes((*[]byte)(&h), int(hlen)) {
		return meta{}, 0, fmt.Errorf("%w: bad header length", errCorrupt)
	}
	n := 4 + len(h)
	var magic []byte
	var key, etag, ctype, cenc cryptobyte.String
	var modified, created uint64
	if !h.ReadBytes(&magic, len(objectMagic)) || string(magic) != objectMagic ||
		!h.ReadUint16LengthPrefixed(&key) || len(key) > maxKeyField ||
		!h.ReadUint16LengthPrefixed(&etag) || len(etag) > maxField ||
		!h.ReadUint64(&modified) || !h.ReadUint64(&created) ||
		!h.ReadUint16LengthPrefixed(&ctype) || len(ctype) > maxField ||
		!h.ReadUint16LengthPrefixed(&cenc) || len(cenc) > maxField ||
		!h.Empty() {
		return meta{}, 0, fmt.Errorf("%w: bad header", errCorrupt)
	}
	if modified > 1<<40 || created > 1<<63-1 {
		return meta{}, 0, fmt.Errorf("%w: bad header times", errCorrupt)
	}
	m := meta{key: string(key), etag: string(etag), ctype: string(ctype), cenc: string(cenc),
		created: time.Unix(0, int64(created))}
	if modified != 0 {
		m.modified = time.Unix(int64(modified), 0).UTC()
	}
	if m.etag != "" && !isStrongETag(m.etag) {
		return meta{}, 0, fmt.Errorf("%w: entity tag is not strong", errCorrupt)
	}
	return m, n, nil
}

// encodeTrailer returns the trailer for a body of size bytes with the
// given SHA-256.
func encodeTrailer(size int64, sum [sha256.Size]byte) []byte {
	b := make([]byte, 0, trailerLen)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = append(b, sum[:]...)
	return append(b, trailerMagic...)
}

// decodeTrailer parses a trailer.
func decodeTrailer(b []byte) (size int64, sum [sha256.Size]byte, err error) {
	if len(b) != trailerLen || !bytes.Equal(b[trailerLen-len(trailerMagic):], []byte(trailerMagic)) {
		return 0, sum, fmt.Errorf("%w: no trailer", errCorrupt)
	}
	u := binary.BigEndian.Uint64(b)
	if u > 1<<62 {
		return 0, sum, fmt.Errorf("%w: bad trailer length", errCorrupt)
	}
	copy(sum[:], b[8:])
	return int64(u), sum, nil
}

// isStrongETag reports whether v is one strong entity tag (RFC 9110,
// section 8.8.3): a quoted string of etagc characters, without W/.
func isStrongETag(v string) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c == '"' || c < 0x21 || c == 0x7f {
			return false
		}
	}
	return true
}
