package download

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openPart opens the partial file at p for reading and writing: the one
// there if it is a regular file of this process's own with no other link
// to it, or else a new one, made where there was none (O_EXCL). A symbolic
// link is never followed, a FIFO never waited on; anything else at p is an
// error wrapping ErrPartFile, and p is left as it is.
func openPart(p string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(p, os.O_RDWR|oNoFollow|syscall.O_NONBLOCK, 0)
		if errors.Is(err, fs.ErrNotExist) {
			f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, 0o644)
			if errors.Is(err, fs.ErrExist) && attempt == 0 {
				continue // made since: check it
			}
			if err != nil {
				return nil, partError(p, err)
			}
			return f, nil
		}
		if err != nil {
			return nil, partError(p, err)
		}
		fi, err := f.Stat()
		if err == nil {
			err = checkOwn(fi)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%w: %s %v", ErrPartFile, p, err)
		}
		return f, nil
	}
}

// partError says why p could not be opened, naming what is there when that
// is not a regular file.
func partError(p string, err error) error {
	if fi, lerr := os.Lstat(p); lerr == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is %s", ErrPartFile, p, fileType(fi.Mode()))
	}
	return err
}

// checkOwn refuses a file that is not a regular file of this process's own
// with a single link: anything else may be another's file, which the
// download would truncate and overwrite.
func checkOwn(fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is %s", fileType(fi.Mode()))
	}
	return checkOwner(fi)
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// samePart reports whether p still names the open partial file f, so that
// the rename into place moves the file written and nothing put there since.
func samePart(f *os.File, p string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	li, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !os.SameFile(fi, li) {
		return fmt.Errorf("%w: %s was replaced during the download", ErrPartFile, p)
	}
	return nil
}
