package credstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize is the largest credential, in bytes, that Import accepts and
// that ReadFile reads: 1 MiB, room for a bundle of several hundred CA
// certificates (Mozilla's whole root store is about 220 KB as PEM) or a
// session file at its limit of sessions. The directory store reads and
// writes files of up to MaxStoredSize.
const MaxSize = 1 << 20

// MaxStoredSize is the largest file the directory store reads or writes:
// MaxSize and 1 KiB of room for a decorator's framing, such as the nonce
// and tag Encrypted adds.
const MaxStoredSize = MaxSize + 1<<10

var (
	// ErrTooLarge is wrapped by errors about input longer than MaxSize or
	// a stored file longer than MaxStoredSize. Nothing is read beyond the
	// limit.
	ErrTooLarge = fmt.Errorf("credstore: larger than the limit of %d bytes", MaxSize)
	// ErrNotRegular is wrapped by errors about a path that is not a
	// regular file: a FIFO, a device such as /dev/zero, a socket or a
	// directory. Such a path is never read, so that it cannot block or
	// feed endless input.
	ErrNotRegular = errors.New("credstore: not a regular file")
)

// ReadFile reads the file called name for Import or ImportKeyPair. It
// refuses what is not a regular file (after following symbolic links) with
// an error wrapping ErrNotRegular, without blocking: the file is opened
// non-blocking and checked on the open descriptor, so a FIFO without a
// writer is refused at once, and the file checked is the file read. It
// refuses a file longer than MaxSize with an error wrapping ErrTooLarge,
// having read no more than MaxSize+1 bytes.
func ReadFile(name string) ([]byte, error) {
	b, err := readRegular(name, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("credstore: reading %s: %w", name, err)
	}
	return b, nil
}

// readRegular reads the regular file at p, of at most limit bytes.
// Errors do not name p; ErrNotExist is kept for callers to test.
func readRegular(p string, limit int64) ([]byte, error) {
	f, err := openRegular(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

// openRegular opens p for reading, refusing what is not a regular file.
func openRegular(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w (%s)", ErrNotRegular, fileType(fi.Mode()))
	}
	return f, nil
}

// readLimited reads f to its end, refusing more than limit bytes.
func readLimited(f *os.File, limit int64) ([]byte, error) {
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if size > limit {
		return nil, fmt.Errorf("%w: %d bytes", tooLarge(limit), size)
	}
	// The size can change while the file is read: the limit is applied to
	// what is read, not to what Stat said.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: the file grew while it was read", tooLarge(limit))
	}
	return b, nil
}

// tooLarge returns ErrTooLarge, or for another limit an error wrapping it
// that states that limit.
func tooLarge(limit int64) error {
	if limit == MaxSize {
		return ErrTooLarge
	}
	return fmt.Errorf("%w (%d for a stored file)", ErrTooLarge, limit)
}

// fileType names the type of a file that is not regular.
func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return "type " + m.Type().String()
}
