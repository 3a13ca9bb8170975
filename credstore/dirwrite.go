package credstore

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A directory store writes a file by writing a temporary file beside it,
// named after it with a leading dot and a random decimal number
// (".key.pem8401…", "..pair-undo17…"), and renaming that over it. The writer
// holds an flock(2) on the temporary file from its creation to the rename,
// so that a temporary file nobody holds is one a writer left when it died,
// which removeStale removes.

// pendingFile is a temporary file that replaces path once committed.
type pendingFile struct {
	f    *os.File
	tmp  string
	path string
	done bool
}

// newPendingFile creates the temporary file for path, readable as perm
// says (whatever the umask), and holds its lock.
func newPendingFile(path string, perm fs.FileMode) (*pendingFile, error) {
	dir, base := filepath.Split(path)
	for attempt := 0; ; attempt++ {
		tmp := filepath.Join(dir, "."+base+strconv.FormatInt(rand.Int64(), 10))
		f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|oNoFollow, perm)
		if errors.Is(err, fs.ErrExist) && attempt < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := &pendingFile{f: f, tmp: tmp, path: path}
		held, err := lockTemp(f, tmp)
		if err == nil && !held && attempt < 100 {
			// A cleaner took the new file for a dead writer's and
			// removes it: make another.
			f.Close()
			continue
		}
		if err == nil && !held {
			err = fmt.Errorf("cannot hold a temporary file in %s", dir)
		}
		if err == nil {
			err = f.Chmod(perm)
		}
		if err != nil {
			p.Cleanup()
			return nil, err
		}
		return p, nil
	}
}

func (p *pendingFile) Write(b []byte) (int, error) { return p.f.Write(b) }

// Commit syncs the temporary file and renames it over the path, holding
// the lock until the rename is done.
func (p *pendingFile) Commit() error {
	if err := p.f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(p.tmp, p.path); err != nil {
		return err
	}
	p.done = true
	return p.f.Close()
}

// Cleanup removes the temporary file unless it was committed.
func (p *pendingFile) Cleanup() {
	if p.done {
		return
	}
	p.done = true
	os.Remove(p.tmp)
	p.f.Close()
}

// leftoverBases are the files whose temporary files removeStale removes.
var leftoverBases = []string{fileNames[CACert], fileNames[ClientCert], fileNames[PrivateKey], fileNames[SessionState], undoName}

// leftoverName reports whether name is that of a temporary file the
// directory store writes (a dot, a file name it writes, decimal digits),
// as this package has named them from the start.
func leftoverName(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	for _, base := range leftoverBases {
		if digits, ok := strings.CutPrefix(rest, base); ok && digits != "" && strings.Trim(digits, "0123456789") == "" {
			return true
		}
	}
	return false
}

// removeStale removes the temporary files in a tag's folder that no live
// writer holds: the ones a writer killed or cut off by a power loss left,
// which can hold a private key. What is not a regular file is left alone,
// and so is everything in a folder this process may not change.
func removeStale(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	removed := false
	for _, e := range entries {
		if !leftoverName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		gone, err := removeIfStale(p)
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil // a store this process can only read
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", p, err)
		}
		removed = removed || gone
	}
	if removed {
		if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// removeIfStale removes the temporary file p if it is a regular file that
// no writer holds, and reports whether it did.
func removeIfStale(p string) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|oNoFollow|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
		return false, nil // gone, or a link since: not ours
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, err
	}
	held, err := lockTemp(f, p)
	if err != nil || !held {
		return false, err // a live writer's, or gone since
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// hasLeftovers reports whether a tag's folder holds an undo file or a
// temporary file.
func hasLeftovers(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() == undoName || leftoverName(e.Name()) {
			return true
		}
	}
	return false
}

// sameFile reports whether name still names the open file f.
func sameFile(f *os.File, name string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	li, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, li), nil
}
