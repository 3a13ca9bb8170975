package ticketkey

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzKey is a fixed key, so that the seed corpus can hold its tickets.
var fuzzKey = bytes.Repeat([]byte{0x5a}, KeyLen)

// FuzzParse: no key file panics the parser or costs more than linear time;
// an accepted file yields keys that seal and open, and a refused one a
// *FileError with one of the package's errors.
func FuzzParse(f *testing.F) {
	line := base64.StdEncoding.EncodeToString(fuzzKey)
	for _, s := range []string{"", "\n", "# c\n" + line + "\n", line + "\r\n" + line[:40] + "\n", line[:63] + "=\n", "\xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ks, err := parse(bytes.Clone(b))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || !(errors.Is(err, ErrNoKeys) || errors.Is(err, ErrEncoding) ||
				errors.Is(err, ErrKeyLength) || errors.Is(err, ErrDuplicateName)) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		r := &Ring{}
		r.keys.Store(ks)
		tk, err := r.Seal([]byte("state"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.Open(tk); err != nil || string(got) != "state" {
			t.Fatalf("Open: %q, %v", got, err)
		}
	})
}

// FuzzOpen: no ticket panics Open, and none but the one sealed under the
// ring's key opens (the seed corpus holds such a ticket and altered ones).
func FuzzOpen(f *testing.F) {
	p := filepath.Join(f.TempDir(), "k")
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(fuzzKey)+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	r, err := Load(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add(fuzzKey[:NameLen])
	f.Add(make([]byte, Overhead))
	f.Fuzz(func(t *testing.T, tk []byte) {
		state, err := r.Open(tk)
		switch {
		case err == nil:
			if !bytes.HasPrefix(state, []byte("fuzz seed state")) {
				t.Fatalf("a forged ticket opened: %q", state)
			}
		case !errors.Is(err, ErrInvalidTicket) && !errors.Is(err, ErrUnknownKey):
			t.Fatalf("unexpected error %v", err)
		}
	})
}
