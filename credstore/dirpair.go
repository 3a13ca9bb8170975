package credstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/cryptobyte"
)

// pairPutter is implemented by stores that replace a tag's private key and
// client certificate as one step, also across a crash. The caller holds the
// store's lock.
type pairPutter interface {
	putPair(ctx context.Context, tag Tag, key, cert []byte) error
}

// undoName is the file in a tag's folder that holds the credentials a pair
// write replaces, until both new ones are in place.
const undoName = ".pair-undo"

// putPair writes key and cert under tag as one step. First it makes the
// old values (or their absence) durable in the tag's undo file, then puts
// the key and the certificate, then removes the undo file. A write that
// fails puts the old values back at once; one that a crash cuts short is
// undone by the next Lock or OpenDir (recover), so a store is never
// left holding the new key beside the old certificate.
func (s *dirStore) putPair(ctx context.Context, tag Tag, key, cert []byte) error {
	refs := []Ref{{tag, PrivateKey}, {tag, ClientCert}}
	vals := [][]byte{key, cert}
	var undo cryptobyte.Builder
	for _, r := range refs {
		old, err := s.Get(ctx, r)
		present := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		undo.AddUint8(uint8(r.Kind))
		undo.AddUint8(boolByte(present))
		undo.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(old) })
	}
	journal, err := undo.Bytes()
	if err != nil {
		return fmt.Errorf("credstore: writing the pair of tag %d: %w", tag, err)
	}
	dir := s.tagDir(tag)
	created, err := s.makeTagDir(dir, refs[0])
	if err != nil {
		return err
	}
	p := filepath.Join(dir, undoName)
	if err := writeDurably(p, journal); err != nil {
		if created {
			os.Remove(dir)
		}
		return fmt.Errorf("credstore: writing %v and cert: cannot write in %s: %w", refs[0], dir, err)
	}
	// From here the undo file makes the pair one step: finish whatever ctx
	// says, and put the old values back on failure.
	ctx = context.WithoutCancel(ctx)
	for i, r := range refs {
		if err := s.Put(ctx, r, vals[i]); err != nil {
			if uerr := s.undoPair(dir); uerr != nil {
				return errors.Join(err, fmt.Errorf("credstore: the pair of tag %d is written in part, and putting the old one back failed (the next open of the store tries again): %w", tag, uerr))
			}
			if created {
				os.Remove(dir)
			}
			return err
		}
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("credstore: writing the pair of tag %d: %w", tag, err)
	}
	return syncDir(dir)
}

// writeDurably writes b to p atomically, readable by its owner only, and
// syncs p's folder.
func writeDurably(p string, b []byte) error {
	f, err := newPendingFile(p, 0o600)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

// undoPair puts back the credentials recorded in dir's undo file and
// removes it.
func (s *dirStore) undoPair(dir string) error {
	p := filepath.Join(dir, undoName)
	b, err := readRegular(p, 2*MaxStoredSize+64)
	if err != nil {
		return err
	}
	tag, ok := parseTagName(filepath.Base(dir))
	if !ok {
		return fmt.Errorf("%s is not in a tag folder", p)
	}
	ctx := context.Background()
	in := cryptobyte.String(b)
	for !in.Empty() {
		var kind, present uint8
		var old cryptobyte.String
		if !in.ReadUint8(&kind) || !in.ReadUint8(&present) || !in.ReadUint24LengthPrefixed(&old) || !Kind(kind).Valid() {
			return fmt.Errorf("%w undo file %s", ErrMalformed, p)
		}
		r := Ref{tag, Kind(kind)}
		if present == 1 {
			err = s.Put(ctx, r, old)
		} else if err = s.remove(r); errors.Is(err, ErrNotFound) {
			err = nil
		}
		if err != nil {
			return err
		}
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	return syncDir(dir)
}

// recover undoes every pair write that a crash cut short, removes the
// temporary files of dead writers, and then the tag folders that held
// nothing else. The caller holds the store's lock, so no undo file belongs
// to a live writer.
func (s *dirStore) recover() error {
	for _, dir := range s.tagDirs() {
		if _, err := os.Lstat(filepath.Join(dir, undoName)); !errors.Is(err, fs.ErrNotExist) {
			if err := s.undoPair(dir); err != nil {
				return fmt.Errorf("credstore: undoing the pair write a crash cut short in %s: %w", dir, err)
			}
		}
		if err := removeStale(dir); err != nil {
			return fmt.Errorf("credstore: removing what a writer left in %s: %w", dir, err)
		}
		if os.Remove(dir) == nil {
			// Empty: the folder of a first Put that did not finish.
			if err := syncDir(s.dir); err != nil {
				return fmt.Errorf("credstore: %w", err)
			}
		}
	}
	return nil
}

// leftovers reports whether a tag folder holds an undo file or a temporary
// file.
func (s *dirStore) leftovers() bool {
	for _, dir := range s.tagDirs() {
		if hasLeftovers(dir) {
			return true
		}
	}
	return false
}

// tagDirs lists the tag folders.
func (s *dirStore) tagDirs() []string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if _, ok := parseTagName(e.Name()); ok && e.IsDir() {
			out = append(out, filepath.Join(s.dir, e.Name()))
		}
	}
	return out
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
