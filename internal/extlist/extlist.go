// Package extlist walks a TLS extension list (RFC 8446, Section 4.2) in
// time linear in its length and without allocating, refusing a malformed
// list and any extension type that appears twice. The hello and
// EncryptedExtensions parsers of internal/wire and the server guard's
// ClientHello scan (internal/guard) share it; each turns an *Error into the TLS alert it owes
// (decode_error for both).
package extlist

import "golang.org/x/crypto/cryptobyte"

// Error reports an extension list that cannot be walked: malformed, or
// holding extension Type twice (Duplicate).
type Error struct {
	Type      uint16 // the repeated extension, when Duplicate
	Duplicate bool
}

func (e *Error) Error() string {
	if e.Duplicate {
		return "extlist: extension appears twice"
	}
	return "extlist: malformed extension list"
}

// set is a set of extension types: one bit per code point, so that checking
// a list for duplicates costs one step per extension.
type set [1 << 16 / 64]uint64

// add adds typ and reports whether it was not in the set yet.
func (s *set) add(typ uint16) bool {
	w, bit := typ/64, uint64(1)<<(typ%64)
	if s[w]&bit != 0 {
		return false
	}
	s[w] |= bit
	return true
}

// Walk calls fn for each extension of the list s (without its length
// prefix), in order. It returns an *Error for a malformed list or a
// duplicate, before calling fn for the duplicate; fn may stop the walk with
// an error of its own, which Walk returns unchanged.
func Walk(s cryptobyte.String, fn func(typ uint16, data []byte) error) error {
	var seen set
	for !s.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !s.ReadUint16(&typ) || !s.ReadUint16LengthPrefixed(&data) {
			return &Error{}
		}
		if !seen.add(typ) {
			return &Error{Type: typ, Duplicate: true}
		}
		if err := fn(typ, data); err != nil {
			return err
		}
	}
	return nil
}
