package ticketkey

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// KeyLen is the length of a decoded key: its name and its cipher key.
	KeyLen = NameLen + chacha20poly1305.KeySize
	// NameLen is the length of a key's name, which starts every ticket.
	NameLen = 16
	// Overhead is how much longer a ticket is than the state it seals: the
	// key's name, the nonce and the authentication tag.
	Overhead = NameLen + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	// MaxTicketLen is the longest ticket Seal makes and Open reads. A
	// session of crypto/tls without client authentication makes a ticket
	// of 113 to 131 bytes; 2048 leaves room for a client's small chain while
	// keeping the ClientHello that carries the ticket small, as a modem
	// needs.
	MaxTicketLen = 2048
	// MaxFileSize is the largest key file read: about 250 keys.
	MaxFileSize = 16 << 10
)

var (
	// ErrNoKeys is the error of a key file without a key.
	ErrNoKeys = errors.New("the file holds no key")
	// ErrEncoding is wrapped by the error of a line that is not standard
	// base64.
	ErrEncoding = errors.New("a key is not base64")
	// ErrKeyLength is wrapped by the error of a line that does not decode
	// to KeyLen bytes.
	ErrKeyLength = fmt.Errorf("a key is not %d bytes", KeyLen)
	// ErrDuplicateName is wrapped by the error of a key whose name an
	// earlier line of the file has.
	ErrDuplicateName = errors.New("two keys have the same name")
	// ErrFileTooLarge is wrapped by the error of a file longer than
	// MaxFileSize. No more than that is read.
	ErrFileTooLarge = fmt.Errorf("the file is larger than %d bytes", MaxFileSize)
	// ErrNotRegular is wrapped by the error of a path that is not a regular
	// file (a FIFO, a device, a directory): it is not read.
	ErrNotRegular = errors.New("not a regular file")

	// ErrTicketTooLarge is returned by Seal for state whose ticket would be
	// longer than MaxTicketLen.
	ErrTicketTooLarge = fmt.Errorf("ticketkey: the ticket would be longer than %d bytes", MaxTicketLen)
	// ErrUnknownKey is returned by Open for a ticket sealed under a key the
	// ring does not hold: one dropped by a rotation, or another fleet's.
	ErrUnknownKey = errors.New("ticketkey: the ticket was sealed under a key not held")
	// ErrInvalidTicket is returned by Open for a ticket that is too short,
	// too long, or does not open under the key it names.
	ErrInvalidTicket = errors.New("ticketkey: invalid ticket")
)

// FileError is an error about the key file, or one line of it. The errors
// above that it wraps say what is wrong without naming the package or the
// file: a FileError adds both.
type FileError struct {
	Path string
	Line int // 1 for the first line; 0 when the error is not about a line
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("ticketkey: %s line %d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("ticketkey: %s: %v", e.Path, e.Err)
}

// Unwrap returns the error's cause.
func (e *FileError) Unwrap() error { return e.Err }

// PermissionError reports a key file that users other than its owner may
// read or write: they could steal the keys, or put their own in. The file is
// not loaded. (Not checked on Windows, whose permissions are not mode bits.)
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("ticketkey: %s can be read or written by group or others (mode %v); run chmod 600 on it", e.Path, e.Mode.Perm())
}

// Ring is the set of session-ticket keys read from a file: the first key
// seals, every key opens. It is safe for concurrent use; a reload replaces
// all keys at once, so a Seal or Open sees the keys of one file.
type Ring struct {
	path string
	keys atomic.Pointer[keySet]

	mu   sync.Mutex // serializes loads
	seen [sha256.Size]byte
}

type keySet struct {
	keys []key // newest first
}

type key struct {
	name [NameLen]byte
	aead cipher.AEAD
}

// Load reads the key file at path (see the package documentation for its
// format and the errors of a bad file).
func Load(path string) (*Ring, error) {
	r := &Ring{path: path}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Path returns the key file's path.
func (r *Ring) Path() string { return r.path }

// Reload reads the key file again and, if it is good, replaces the keys
// with its keys. A bad file leaves the keys as they were and returns the
// error.
func (r *Ring) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.loadLocked(true)
	return err
}

// Watch reads the key file every interval until ctx is done and reloads
// the keys when the file has changed (its bytes or its permissions) since
// the last read, as Reload does; after each such reload it calls report, if
// not nil, with the error (nil for keys replaced). A file that stays bad is
// reported once, and a file that is missing for a while (replaced by hand
// rather than renamed over) keeps the old keys until it is back. An
// interval of zero or less means one second.
func (r *Ring) Watch(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		changed, err := r.loadLocked(false)
		r.mu.Unlock()
		if changed && report != nil {
			report(err)
		}
	}
}

// loadLocked reads the file and installs its keys when always is set or
// the file differs from the last read; changed says whether it did either.
func (r *Ring) loadLocked(always bool) (changed bool, err error) {
	b, mode, err := readFile(r.path)
	defer clear(b)
	var seen [sha256.Size]byte
	if err != nil {
		seen = sha256.Sum256([]byte("error\x00" + err.Error()))
	} else {
		h := sha256.New()
		fmt.Fprintf(h, "file\x00%o\x00", mode)
		h.Write(b)
		h.Sum(seen[:0])
	}
	if !always && seen == r.seen {
		return false, nil
	}
	r.seen = seen
	if err != nil {
		return true, err
	}
	ks, err := parse(b)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			fe.Path = r.path
		}
		return true, err
	}
	r.keys.Store(ks)
	return true, nil
}

// readFile reads the regular file at p, refusing one others may read or
// write, or one longer than MaxFileSize.
func readFile(p string) ([]byte, fs.FileMode, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the FileError names the file
		}
		return nil, 0, &FileError{Path: p, Err: err}
	}
	defer f.Close()
	// Checked on the open file, so that the file checked is the file read.
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, &FileError{Path: p, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, 0, &FileError{Path: p, Err: fmt.Errorf("%w (mode %v)", ErrNotRegular, fi.Mode())}
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, 0, &PermissionError{Path: p, Mode: fi.Mode()}
	}
	if fi.Size() > MaxFileSize {
		return nil, 0, &FileError{Path: p, Err: ErrFileTooLarge}
	}
	// One buffer, never grown, so that no copy of the keys is left behind
	// unzeroed; the size can change after Stat, so the limit applies to
	// what is read.
	b := make([]byte, MaxFileSize+1)
	n, err := io.ReadFull(f, b)
	b = b[:n]
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		clear(b)
		return nil, 0, &FileError{Path: p, Err: err}
	}
	if n > MaxFileSize {
		clear(b)
		return nil, 0, &FileError{Path: p, Err: ErrFileTooLarge}
	}
	return b, fi.Mode(), nil
}

// parse reads the keys of a key file's bytes. Its errors are *FileErrors
// without a path.
func parse(b []byte) (*keySet, error) {
	ks := &keySet{}
	var raw [KeyLen + 3]byte // a line may decode to a little more than KeyLen
	defer clear(raw[:])
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		for i, c := range line {
			if !isBase64(c) {
				return nil, &FileError{Line: n, Err: fmt.Errorf("%w: character %d is not of the base64 alphabet", ErrEncoding, i+1)}
			}
		}
		if base64.StdEncoding.DecodedLen(len(line)) > len(raw) {
			return nil, &FileError{Line: n, Err: fmt.Errorf("%w: a line of %d characters, want %d", ErrKeyLength, len(line), base64.StdEncoding.EncodedLen(KeyLen))}
		}
		m, err := base64.StdEncoding.Decode(raw[:], line)
		if err != nil {
			return nil, &FileError{Line: n, Err: fmt.Errorf("%w (%v)", ErrEncoding, err)}
		}
		if m != KeyLen {
			return nil, &FileError{Line: n, Err: fmt.Errorf("%w: %d bytes", ErrKeyLength, m)}
		}
		var k key
		copy(k.name[:], raw[:NameLen])
		for _, o := range ks.keys {
			if o.name == k.name {
				return nil, &FileError{Line: n, Err: ErrDuplicateName}
			}
		}
		k.aead, err = chacha20poly1305.NewX(raw[NameLen:KeyLen])
		if err != nil {
			return nil, &FileError{Line: n, Err: err}
		}
		ks.keys = append(ks.keys, k)
	}
	if len(ks.keys) == 0 {
		return nil, &FileError{Err: ErrNoKeys}
	}
	return ks, nil
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// Len returns the number of keys held.
func (r *Ring) Len() int {
	if ks := r.keys.Load(); ks != nil {
		return len(ks.keys)
	}
	return 0
}

// Names returns the names of the keys held, in hexadecimal, newest (the
// key that seals) first. Names are not secret: every ticket carries one.
func (r *Ring) Names() []string {
	ks := r.keys.Load()
	if ks == nil {
		return nil
	}
	names := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		names[i] = hex.EncodeToString(k.name[:])
	}
	return names
}

// Seal returns a ticket holding state, sealed under the newest key. It
// returns ErrTicketTooLarge, and no ticket, when the ticket would be longer
// than MaxTicketLen.
func (r *Ring) Seal(state []byte) ([]byte, error) {
	ks := r.keys.Load()
	if ks == nil {
		return nil, ErrNoKeys
	}
	if Overhead+len(state) > MaxTicketLen {
		return nil, ErrTicketTooLarge
	}
	k := &ks.keys[0]
	var nonce [chacha20poly1305.NonceSizeX]byte
	rand.Read(nonce[:])
	t := make([]byte, 0, Overhead+len(state))
	t = append(t, k.name[:]...)
	t = append(t, nonce[:]...)
	return k.aead.Seal(t, nonce[:], state, k.name[:]), nil
}

// Open returns the state a ticket holds. It returns ErrUnknownKey for a
// ticket sealed under a key the ring does not hold, and ErrInvalidTicket for
// one that is shorter than Overhead, longer than MaxTicketLen, or does not
// open (altered, or not a ticket).
func (r *Ring) Open(ticket []byte) ([]byte, error) {
	ks := r.keys.Load()
	if ks == nil {
		return nil, ErrNoKeys
	}
	if len(ticket) < Overhead || len(ticket) > MaxTicketLen {
		return nil, ErrInvalidTicket
	}
	name := ticket[:NameLen]
	nonce := ticket[NameLen : NameLen+chacha20poly1305.NonceSizeX]
	for i := range ks.keys {
		k := &ks.keys[i]
		if !bytes.Equal(k.name[:], name) {
			continue
		}
		state, err := k.aead.Open(nil, nonce, ticket[NameLen+len(nonce):], k.name[:])
		if err != nil {
			return nil, ErrInvalidTicket
		}
		return state, nil
	}
	return nil, ErrUnknownKey
}
