package ticketkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// newKey returns a random key as a line of the key file would hold it.
func newKey(t testing.TB) string {
	t.Helper()
	var b [KeyLen]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// nameOf returns the hexadecimal name of a key line.
func nameOf(t testing.TB, line string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:NameLen])
}

// writeFile replaces the file at p with content (mode 0600) by a rename, as
// an operator's rotation does.
func writeFile(t testing.TB, p, content string) {
	t.Helper()
	tmp := p + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

func keyFile(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ticket.keys")
	writeFile(t, p, strings.Join(lines, "\n")+"\n")
	return p
}

// TestLoadFormat checks what a good file may hold: comments, blank lines,
// CRLF line ends, surrounding spaces, no final newline; the keys keep the
// file's order.
func TestLoadFormat(t *testing.T) {
	k1, k2, k3 := newKey(t), newKey(t), newKey(t)
	for _, tc := range []struct{ name, content string }{
		{"plain", k1 + "\n" + k2 + "\n" + k3 + "\n"},
		{"comments and blanks", "# rotated 2026-12-01\n\n" + k1 + "\n  # previous\n" + k2 + "\n\n" + k3 + "\n\n"},
		{"CRLF", k1 + "\r\n" + k2 + "\r\n" + k3 + "\r\n"},
		{"spaces", "  " + k1 + "\t\n " + k2 + "\n" + k3},
		{"no final newline", k1 + "\n" + k2 + "\n" + k3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k")
			writeFile(t, p, tc.content)
			r, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{nameOf(t, k1), nameOf(t, k2), nameOf(t, k3)}
			if got := r.Names(); strings.Join(got, ",") != strings.Join(want, ",") || r.Len() != 3 {
				t.Errorf("names %v, want %v", got, want)
			}
			if r.Path() != p {
				t.Errorf("Path %q", r.Path())
			}
		})
	}
}

// TestLoadRefuses checks every bad file's typed error, and that no error
// shows a byte of the file.
func TestLoadRefuses(t *testing.T) {
	good := newKey(t)
	raw := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	dup := good[:24] + raw(KeyLen)[24:] // 24 characters are 18 bytes: the same 16-byte name, another key
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		is      error // errors.Is target, if any
		line    int   // the *FileError's line, if a line is at fault
		secret  string
	}{
		{"empty", "", 0o600, ErrNoKeys, 0, ""},
		{"comments only", "# nothing yet\n\n", 0o600, ErrNoKeys, 0, ""},
		{"short key", good + "\n" + raw(KeyLen-1) + "\n", 0o600, ErrKeyLength, 2, ""},
		{"long key", raw(KeyLen+1) + "\n", 0o600, ErrKeyLength, 1, ""},
		{"80-byte nginx key", raw(80) + "\n", 0o600, ErrKeyLength, 1, ""},
		{"very long line", good + "\n# c\n" + strings.Repeat("A", 5000) + "\n", 0o600, ErrKeyLength, 3, ""},
		{"truncated mid-line", good + "\n" + good[:41], 0o600, ErrEncoding, 2, ""},
		{"bad padding", good[:62] + "=A\n", 0o600, ErrEncoding, 1, ""},
		{"not base64", "ZmFrZS1rZXk*" + good[12:] + "\n", 0o600, ErrEncoding, 1, good[12:]},
		{"URL-safe base64", "-_" + good[2:] + "\n", 0o600, ErrEncoding, 1, good[2:]},
		{"space inside", good[:30] + " " + good[30:] + "\n", 0o600, ErrEncoding, 1, good[30:]},
		{"binary file", string(bytes.Repeat([]byte{0x9c, 0x01}, KeyLen)), 0o600, ErrEncoding, 1, ""},
		{"duplicate name", good + "\n" + dup + "\n", 0o600, ErrDuplicateName, 2, ""},
		{"same key twice", good + "\n" + good + "\n", 0o600, ErrDuplicateName, 2, ""},
		{"too large", good + "\n" + strings.Repeat("#", MaxFileSize-len(good)) + "\n", 0o600, ErrFileTooLarge, 0, ""},
		{"readable by others", good + "\n", 0o604, nil, 0, ""},
		{"readable by group", good + "\n", 0o640, nil, 0, ""},
		{"writable by group", good + "\n", 0o620, nil, 0, ""},
		{"world-readable", good + "\n", 0o644, nil, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k")
			writeFile(t, p, tc.content)
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			r, err := Load(p)
			if err == nil || r != nil {
				t.Fatalf("loaded: %v keys", r.Len())
			}
			t.Log(err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if tc.mode&0o077 != 0 {
				var pe *PermissionError
				if !errors.As(err, &pe) || pe.Path != p || pe.Mode.Perm() != tc.mode {
					t.Errorf("error %v is not a *PermissionError for %s, mode %v", err, p, tc.mode)
				}
			}
			var fe *FileError
			if tc.is != nil && (!errors.As(err, &fe) || fe.Line != tc.line || fe.Path != p) {
				t.Errorf("error %v is not a *FileError for %s line %d", err, p, tc.line)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
			for _, s := range []string{good[:16], good[len(good)-16:], tc.secret} {
				if s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows the file's content", err)
				}
			}
		})
	}
}

// TestLoadFileSizeBoundary: a file of exactly MaxFileSize bytes loads; one
// byte more does not.
func TestLoadFileSizeBoundary(t *testing.T) {
	good := newKey(t) + "\n"
	for _, size := range []int{MaxFileSize, MaxFileSize + 1} {
		pad := strings.Repeat("#", size-len(good)-1) + "\n"
		p := keyFile(t, good+pad[:len(pad)-1])
		if fi, _ := os.Stat(p); fi.Size() != int64(size) {
			t.Fatalf("file is %d bytes, want %d", fi.Size(), size)
		}
		_, err := Load(p)
		if wantErr := size > MaxFileSize; (err != nil) != wantErr || (wantErr && !errors.Is(err, ErrFileTooLarge)) {
			t.Errorf("%d bytes: %v", size, err)
		}
	}
}

// TestLoadNotRegular: a missing file, a directory and a FIFO without a
// writer are refused at once, with errors that say so.
func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(fifo); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}

// TestLoadFollowsSymlink: a key file reached through a symbolic link (as a
// Kubernetes secret volume mounts it) is read, with the target's mode.
func TestLoadFollowsSymlink(t *testing.T) {
	p := keyFile(t, newKey(t))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(p, link); err != nil {
		t.Skip(err)
	}
	if _, err := Load(link); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if _, err := Load(link); !errors.As(err, new(*PermissionError)) {
		t.Errorf("a world-readable target through a link: %v", err)
	}
}

// TestSealOpen checks tickets: they open under the ring that sealed them
// and under any ring holding the key, start with the newest key's name, are
// Overhead bytes longer than the state, differ each time, and refuse any
// change.
func TestSealOpen(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	a, err := Load(keyFile(t, k1, k2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(keyFile(t, k2, k1)) // another server, already rotated
	if err != nil {
		t.Fatal(err)
	}
	state := []byte("session state, secret included")
	t1, err := a.Seal(state)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := a.Seal(state)
	if len(t1) != Overhead+len(state) || hex.EncodeToString(t1[:NameLen]) != nameOf(t, k1) {
		t.Errorf("ticket of %d bytes named %x, want %d bytes named %s", len(t1), t1[:NameLen], Overhead+len(state), nameOf(t, k1))
	}
	if bytes.Equal(t1, t2) || bytes.Contains(t1, state[:8]) {
		t.Error("tickets repeat, or show the state")
	}
	for _, r := range []*Ring{a, b} {
		if got, err := r.Open(t1); err != nil || !bytes.Equal(got, state) {
			t.Errorf("Open: %q, %v", got, err)
		}
	}
	for i := range t1 {
		bad := bytes.Clone(t1)
		bad[i] ^= 1
		_, err := a.Open(bad)
		want := ErrInvalidTicket
		if i < NameLen {
			want = ErrUnknownKey
		}
		if !errors.Is(err, want) {
			t.Fatalf("byte %d changed: %v, want %v", i, err, want)
		}
	}
	other, _ := Load(keyFile(t, newKey(t)))
	if _, err := other.Open(t1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("another fleet's ticket: %v", err)
	}
	// A name from the ring with the nonce and sealed bytes of another key.
	moved := append(bytes.Clone(t1[:NameLen]), must(other.Seal(state))[NameLen:]...)
	if _, err := a.Open(moved); !errors.Is(err, ErrInvalidTicket) {
		t.Errorf("another key's ticket under this ring's name: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestTicketLengthBounds: Seal makes tickets up to MaxTicketLen and no
// longer; Open reads tickets from Overhead to MaxTicketLen bytes and refuses
// the lengths either side before trying a key.
func TestTicketLengthBounds(t *testing.T) {
	r, err := Load(keyFile(t, newKey(t)))
	if err != nil {
		t.Fatal(err)
	}
	longest, err := r.Seal(make([]byte, MaxTicketLen-Overhead))
	if err != nil || len(longest) != MaxTicketLen {
		t.Fatalf("state of %d bytes: %d-byte ticket, %v", MaxTicketLen-Overhead, len(longest), err)
	}
	if _, err := r.Open(longest); err != nil {
		t.Errorf("longest ticket: %v", err)
	}
	if tk, err := r.Seal(make([]byte, MaxTicketLen-Overhead+1)); !errors.Is(err, ErrTicketTooLarge) || tk != nil {
		t.Errorf("state one byte longer: %d bytes, %v", len(tk), err)
	}
	empty, _ := r.Seal(nil)
	if got, err := r.Open(empty); err != nil || len(got) != 0 || len(empty) != Overhead {
		t.Errorf("empty state: %d-byte ticket, %v", len(empty), err)
	}
	for _, tk := range [][]byte{empty[:Overhead-1], append(bytes.Clone(longest), 0), nil, make([]byte, NameLen)} {
		if _, err := r.Open(tk); !errors.Is(err, ErrInvalidTicket) {
			t.Errorf("%d-byte ticket: %v", len(tk), err)
		}
	}
}

// TestReload checks a rotation: after Reload the new first key seals,
// tickets under a key still in the file open, tickets under a dropped key do
// not; a bad file keeps the keys and says why.
func TestReload(t *testing.T) {
	k1, k2, k3 := newKey(t), newKey(t), newKey(t)
	p := keyFile(t, k1)
	r, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	under1, _ := r.Seal([]byte("one"))
	writeFile(t, p, k2+"\n"+k1+"\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	under2, _ := r.Seal([]byte("two"))
	if hex.EncodeToString(under2[:NameLen]) != nameOf(t, k2) {
		t.Error("the new first key does not seal")
	}
	if _, err := r.Open(under1); err != nil {
		t.Errorf("ticket under the previous key after the rotation: %v", err)
	}
	writeFile(t, p, k3+"\n"+k2+"\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Open(under1); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("ticket under a dropped key: %v", err)
	}
	if _, err := r.Open(under2); err != nil {
		t.Errorf("ticket under the kept key: %v", err)
	}
	for _, bad := range []func(){
		func() { writeFile(t, p, k1[:20]+"\n") },
		func() { writeFile(t, p, "") },
		func() { os.Chmod(p, 0o644) },
		func() { os.Remove(p) },
	} {
		bad()
		if err := r.Reload(); err == nil {
			t.Fatal("a bad file reloaded")
		}
		if r.Len() != 2 || r.Names()[0] != nameOf(t, k3) {
			t.Fatalf("after a bad reload: %v", r.Names())
		}
		if _, err := r.Open(under2); err != nil {
			t.Fatalf("after a bad reload: %v", err)
		}
		writeFile(t, p, k3+"\n"+k2+"\n")
	}
}

// TestWatch checks that Watch reloads a changed file, reports a bad one once
// and keeps the keys, and reports nothing while the file stays the same.
func TestWatch(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	p := keyFile(t, k1)
	r, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan error, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Watch(ctx, 10*time.Millisecond, func(err error) { reports <- err }) }()
	defer func() { cancel(); wg.Wait() }()
	next := func() error {
		t.Helper()
		select {
		case err := <-reports:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("no report")
			return nil
		}
	}
	quiet := func() {
		t.Helper()
		select {
		case err := <-reports:
			t.Fatalf("report without a change: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	quiet()
	writeFile(t, p, k2+"\n"+k1+"\n")
	if err := next(); err != nil || r.Names()[0] != nameOf(t, k2) {
		t.Fatalf("after a change: %v, %v", err, r.Names())
	}
	quiet()
	writeFile(t, p, "garbage\n")
	if err := next(); !errors.Is(err, ErrEncoding) || r.Len() != 2 {
		t.Fatalf("bad file: %v, %d keys", err, r.Len())
	}
	quiet() // the same bad file is reported once
	os.Remove(p)
	if err := next(); !errors.Is(err, fs.ErrNotExist) || r.Len() != 2 {
		t.Fatalf("missing file: %v, %d keys", err, r.Len())
	}
	quiet()
	writeFile(t, p, k2+"\n"+k1+"\n")
	if err := next(); err != nil {
		t.Fatalf("file back: %v", err)
	}
	os.Chmod(p, 0o640) // same bytes, other mode
	if err := next(); !errors.As(err, new(*PermissionError)) {
		t.Fatalf("group-readable: %v", err)
	}
	os.Chmod(p, 0o600)
	if err := next(); err != nil {
		t.Fatalf("mode back: %v", err)
	}
}

// TestConcurrentReload runs Seal and Open while the file is rotated and
// reloaded (for the race detector): each ticket opens under the ring unless
// its key was dropped.
func TestConcurrentReload(t *testing.T) {
	keys := []string{newKey(t), newKey(t)}
	p := keyFile(t, keys[0])
	r, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tk, err := r.Seal([]byte("state"))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Open(tk); err != nil && !errors.Is(err, ErrUnknownKey) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 50 {
		keys = append([]string{newKey(t)}, keys[:2]...)
		writeFile(t, p, strings.Join(keys, "\n"))
		if err := r.Reload(); err != nil {
			t.Fatal(i, err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestZeroRing: a Ring not made by Load has no keys and says so.
func TestZeroRing(t *testing.T) {
	var r Ring
	if _, err := r.Seal(nil); !errors.Is(err, ErrNoKeys) {
		t.Error(err)
	}
	if _, err := r.Open(make([]byte, 100)); !errors.Is(err, ErrNoKeys) {
		t.Error(err)
	}
	if r.Len() != 0 || r.Names() != nil {
		t.Error("keys in a zero Ring")
	}
}
