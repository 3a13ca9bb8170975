package credstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/google/renameio/v2"
)

var fileNames = map[Kind]string{CACert: "ca.pem", ClientCert: "cert.pem", PrivateKey: "key.pem", SessionState: "session.bin"}

// OpenDir returns a Store kept in dir: one folder per tag, named by its
// number, holding ca.pem, cert.pem, key.pem and session.bin. Every write goes
// to a temporary file that is synced and then renamed over the old one, so a
// crash or a full disk leaves the old credential or the new one, never a torn
// file. Private keys and session state are written readable by their owner
// only, and a key file that others can read is refused. dir is created if
// needed.
func OpenDir(dir string) (Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credstore: opening store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: opening store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("credstore: opening store: %s is not a directory", dir)
	}
	return &dirStore{dir: dir}, nil
}

type dirStore struct {
	dir string
	mu  sync.RWMutex // orders operations within this process; renames make them atomic on disk
}

func (s *dirStore) path(r Ref) (string, error) {
	name, ok := fileNames[r.Kind]
	if !ok {
		return "", fmt.Errorf("credstore: %v: unknown kind", r)
	}
	return filepath.Join(s.dir, strconv.FormatUint(uint64(r.Tag), 10), name), nil
}

func secret(k Kind) bool { return k == PrivateKey || k == SessionState }

func (s *dirStore) Get(ctx context.Context, r Ref) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.path(r)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, r)
	}
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	defer f.Close()
	if secret(r.Kind) {
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("credstore: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("credstore: %s is readable by group or others (mode %v); run chmod 600 on it", p, fi.Mode().Perm())
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	return b, nil
}

func (s *dirStore) Put(ctx context.Context, r Ref, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(r)
	if err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if secret(r.Kind) {
		perm = 0o600
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	if err := renameio.WriteFile(p, value, perm); err != nil {
		return fmt.Errorf("credstore: writing %v: %w", r, err)
	}
	return nil
}

func (s *dirStore) Delete(ctx context.Context, r Ref) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.path(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v", ErrNotFound, r)
	} else if err != nil {
		return fmt.Errorf("credstore: deleting %v: %w", r, err)
	}
	os.Remove(filepath.Dir(p)) // only succeeds once the tag is empty
	return nil
}

func (s *dirStore) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	tags, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("credstore: listing: %w", err)
	}
	var out []Info
	for _, t := range tags {
		n, err := strconv.ParseUint(t.Name(), 10, 32)
		if err != nil || !t.IsDir() {
			continue // not a tag folder (a temporary file, say)
		}
		for k, name := range fileNames {
			b, err := os.ReadFile(filepath.Join(s.dir, t.Name(), name))
			if err != nil {
				continue
			}
			out = append(out, Info{Ref: Ref{Tag(n), k}, SHA256: sha256.Sum256(b), Size: len(b)})
		}
	}
	sortInfos(out)
	return out, nil
}
