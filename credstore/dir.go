package credstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// fileNames are the names of the files a directory store keeps per tag.
var fileNames = map[Kind]string{CACert: "ca.pem", ClientCert: "cert.pem", PrivateKey: "key.pem", SessionState: "session.bin"}

// PermissionError reports a file holding a secret that users other than
// its owner may read. The directory store refuses to load it.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("credstore: %s is readable by group or others (mode %v); run chmod 600 on it", e.Path, e.Mode.Perm())
}

// DirPermissionError reports a store folder (the store's directory or a
// tag's folder) that users other than its owner may write: any of them
// could replace its CA certificates or keys. OpenDir refuses such a store.
type DirPermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *DirPermissionError) Error() string {
	return fmt.Sprintf("credstore: the store folder %s can be written by group or others (mode %v), who could replace its credentials; run chmod go-w on it", e.Path, e.Mode.Perm())
}

// OpenDir returns a Store kept in dir: one folder per tag, named by its
// number, holding ca.pem, cert.pem, key.pem and session.bin. dir is created
// (readable by its owner only) if needed.
//
// Every write goes to a temporary file in the tag's folder that is synced
// and then renamed over the old one, and the folder is synced after, so a
// crash, a power cut or a full disk leaves the old credential or the new
// one, never a torn file. A crash can leave a temporary file (named after
// the credential with a leading dot and a number) behind; it is never read,
// and since it may hold a copy of a private key, it is removed by the next
// OpenDir, Lock or Delete in the tag: each writer holds an flock(2) on its
// temporary file until the rename, so that one nobody holds is known to be
// a dead writer's. (On systems without flock the removal fails, where it
// can, for a file a live writer holds open.) A tag's
// folder is made by the first Put under it and removed with its last
// credential, also when that Put fails, so a refused write leaves the
// directory as it was.
//
// Private keys and session state are written readable by their owner only,
// and Get refuses such a file that others can read with a *PermissionError.
// A store in a directory that cannot be written can still be read; Put
// then fails with an error naming the directory.
//
// OpenDir refuses, with a *DirPermissionError, a store whose directory or
// any tag folder in it can be written by group or others. Only regular
// files are read (symbolic links to them are followed): a FIFO, a device or
// a folder in the place of a credential is an error wrapping ErrNotRegular,
// found without blocking, and a file longer than MaxStoredSize one wrapping
// ErrTooLarge; Put refuses values longer than MaxStoredSize.
//
// The store is safe for concurrent use, also by several processes: each
// credential is replaced atomically, and the last writer wins. It is a
// Locker across processes (an flock on the file .lock in dir), which Import
// and ImportKeyPair hold so that a certificate and its key are replaced as
// one step.
func OpenDir(dir string) (Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credstore: cannot create the store directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: opening store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("credstore: opening store: %s is not a directory", dir)
	}
	if err := checkDirPerm(dir, fi); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: opening store: %w", err)
	}
	for _, e := range entries {
		if _, ok := parseTagName(e.Name()); !ok || !e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			continue // removed since: nothing to check
		}
		if err := checkDirPerm(p, fi); err != nil {
			return nil, err
		}
	}
	s := &dirStore{dir: dir}
	if s.leftovers() {
		// A pair write was cut short, or is running, or a writer left a
		// temporary file: the lock waits for a running pair write, undoes
		// what a crash left and removes what no live writer holds.
		unlock, err := s.Lock(context.Background())
		if err != nil {
			return nil, err
		}
		unlock()
	}
	return s, nil
}

// checkDirPerm refuses a folder that group or others can write.
func checkDirPerm(p string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o022 != 0 {
		return &DirPermissionError{Path: p, Mode: fi.Mode()}
	}
	return nil
}

// parseTagName returns the tag a folder name stands for.
func parseTagName(name string) (Tag, bool) {
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return 0, false
	}
	return Tag(n), true
}

type dirStore struct {
	dir string
}

func (s *dirStore) tagDir(t Tag) string {
	return filepath.Join(s.dir, strconv.FormatUint(uint64(t), 10))
}

func (s *dirStore) path(r Ref) string { return filepath.Join(s.tagDir(r.Tag), fileNames[r.Kind]) }

func (s *dirStore) Get(ctx context.Context, r Ref) ([]byte, error) {
	if err := check(ctx, r); err != nil {
		return nil, err
	}
	p := s.path(r)
	f, err := openRegular(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound(r)
	}
	if err != nil {
		return nil, fmt.Errorf("credstore: reading %v: %w", r, err)
	}
	defer f.Close()
	if r.Kind.Secret() {
		// Checked on the open file, so it is the file that is read.
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("credstore: reading %v: %w", r, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, &PermissionError{Path: p, Mode: fi.Mode()}
		}
	}
	b, err := readLimited(f, MaxStoredSize)
	if err != nil {
		return nil, fmt.Errorf("credstore: reading %v from %s: %w", r, p, err)
	}
	return b, nil
}

func (s *dirStore) Put(ctx context.Context, r Ref, value []byte) error {
	if err := check(ctx, r); err != nil {
		return err
	}
	if len(value) > MaxStoredSize {
		return fmt.Errorf("credstore: writing %v: %w: %d bytes", r, tooLarge(MaxStoredSize), len(value))
	}
	dir := s.tagDir(r.Tag)
	perm := fs.FileMode(0o644)
	if r.Kind.Secret() {
		perm = 0o600
	}
	var f *pendingFile
	created := false // this Put made the tag's folder
	for attempt := 1; ; attempt++ {
		made, err := s.makeTagDir(dir, r)
		if err != nil {
			return err
		}
		created = created || made
		f, err = newPendingFile(s.path(r), perm)
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < 5 {
			continue // a Delete removed the folder, empty, since: make it again
		}
		if created {
			os.Remove(dir)
		}
		return fmt.Errorf("credstore: writing %v: cannot write in %s: %w", r, dir, err)
	}
	done := false
	if created {
		// A failed Put leaves no empty folder behind. Deferred first, so
		// that it runs after Cleanup has removed the temporary file.
		defer func() {
			if !done {
				os.Remove(dir)
			}
		}()
	}
	defer f.Cleanup()
	if _, err := f.Write(value); err != nil {
		return fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("credstore: writing %v: %w", r, err) // the old value stays
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	done = true
	// The folder is gone only if a later Delete removed the value and it.
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	return nil
}

// makeTagDir makes the folder of a tag if it is missing, and reports
// whether it did.
func (s *dirStore) makeTagDir(dir string, r Ref) (bool, error) {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return false, nil // there, or a problem the write will report
	}
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("credstore: writing %v: cannot create %s: %w", r, dir, err)
	}
	if err := syncDir(s.dir); err != nil {
		os.Remove(dir)
		return false, fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	return true, nil
}

func (s *dirStore) Delete(ctx context.Context, r Ref) error {
	if err := check(ctx, r); err != nil {
		return err
	}
	dir := s.tagDir(r.Tag)
	if _, err := os.Lstat(filepath.Join(dir, undoName)); err == nil {
		// A pair write that a crash cut short holds the old credentials
		// in its undo file: undo it first, unless a live writer holds
		// the lock (its Lock undid what was left; the undo file is its
		// own, and goes when it is done). Not waiting for the lock keeps
		// a caller that holds it from waiting on itself.
		unlock, ok, err := s.tryLock()
		if err != nil {
			return fmt.Errorf("credstore: deleting %v: %w", r, err)
		}
		if ok {
			unlock()
		}
	}
	return s.remove(r)
}

// remove deletes the file of r, the temporary files of dead writers in its
// tag's folder (which may hold a copy of a key), and the folder if that was
// its last credential.
func (s *dirStore) remove(r Ref) error {
	if err := os.Remove(s.path(r)); errors.Is(err, fs.ErrNotExist) {
		return notFound(r)
	} else if err != nil {
		return fmt.Errorf("credstore: deleting %v: %w", r, err)
	}
	// A tag's folder goes with its last credential, so that a store looks
	// as it did before the credential was put. This fails harmlessly while
	// the folder holds anything, a concurrent Put's temporary file
	// included, and a Put that finds the folder gone makes it again.
	dir, synced := s.tagDir(r.Tag), s.dir
	if err := removeStale(dir); err != nil {
		return fmt.Errorf("credstore: deleting %v: %w", r, err)
	}
	if err := os.Remove(dir); err != nil {
		synced = dir
	}
	if err := syncDir(synced); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("credstore: deleting %v: %w", r, err)
	}
	return nil
}

func (s *dirStore) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	tags, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: listing: %w", err)
	}
	var out []Info
	for _, t := range tags {
		n, ok := parseTagName(t.Name())
		if !ok || !t.IsDir() {
			continue // not a tag folder
		}
		for _, k := range Kinds() {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("credstore: %w", err)
			}
			p := filepath.Join(s.dir, t.Name(), fileNames[k])
			b, err := readRegular(p, MaxStoredSize)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("credstore: listing %s: %w", p, err)
			}
			out = append(out, InfoOf(Ref{n, k}, b))
		}
	}
	SortInfos(out) // ReadDir sorts by name, and "10" < "9"
	return out, nil
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
