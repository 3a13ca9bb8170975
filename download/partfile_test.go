package download_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/download"
)

// TestPartFileRefused plants things at FILE.part that are not a regular
// file of the process's own (issue 17, item 3: a symbolic link had its
// target truncated and overwritten, and FILE ended as a link to it): a
// link to a victim file, a hard link to one, a FIFO, a folder, and a file
// of another user. The download fails with an error wrapping ErrPartFile,
// the victim is untouched, and FILE does not appear.
func TestPartFileRefused(t *testing.T) {
	body := random(t, 32<<10)
	rs := &resource{}
	rs.set(body, `"v1"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	victimText := []byte("the victim's own bytes\n")
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, part, victim string)
		root  bool
	}{
		{"symbolic link", func(t *testing.T, part, victim string) { must(t, os.Symlink(victim, part)) }, false},
		{"dangling symbolic link", func(t *testing.T, part, victim string) { must(t, os.Symlink(victim+".none", part)) }, false},
		{"hard link", func(t *testing.T, part, victim string) { must(t, os.Link(victim, part)) }, false},
		{"FIFO", func(t *testing.T, part, victim string) { must(t, syscall.Mkfifo(part, 0o644)) }, false},
		{"folder", func(t *testing.T, part, victim string) { must(t, os.Mkdir(part, 0o755)) }, false},
		{"another user's file", func(t *testing.T, part, victim string) {
			must(t, os.WriteFile(part, victimText, 0o644))
			must(t, os.Chown(part, 65534, 65534))
		}, true},
	} {
		for _, resume := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s resume %v", tc.name, resume), func(t *testing.T) {
				if tc.root && os.Geteuid() != 0 {
					t.Skip("needs root to make a file of another user")
				}
				dir := t.TempDir()
				path, victim := filepath.Join(dir, "fw.bin"), filepath.Join(t.TempDir(), "victim")
				must(t, os.WriteFile(victim, victimText, 0o644))
				tc.plant(t, path+".part", victim)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				o := opt
				o.Resume = resume
				_, err := download.File(ctx, url, path, o)
				if !errors.Is(err, download.ErrPartFile) {
					t.Errorf("err %v, want ErrPartFile", err)
				}
				if b, _ := os.ReadFile(victim); !bytes.Equal(b, victimText) {
					t.Errorf("the victim holds %d bytes, not its own", len(b))
				}
				if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists: %v", path, err)
				}
			})
		}
	}
}

// TestSidecarLinkNotRead plants a symbolic link at FILE.part.meta to a
// victim that holds a sidecar matching the partial file (and, as another
// user's file, the same sidecar): the sidecar is read only from a regular
// file of the process's own, so the download starts afresh rather than
// continuing the partial file (no Range request), ends with the body, and
// leaves the victim untouched.
func TestSidecarLinkNotRead(t *testing.T) {
	body := random(t, 64<<10)
	rs := &resource{}
	rs.set(body, `"v1"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	meta := []byte(fmt.Sprintf(`{"format":1,"url":%q,"etag":"\"v1\"","size":%d}`+"\n", url, len(body)))
	for _, tc := range []struct {
		name string
		root bool
	}{{"symbolic link", false}, {"another user's file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("needs root to make a file of another user")
			}
			dir := t.TempDir()
			path, victim := filepath.Join(dir, "fw.bin"), filepath.Join(t.TempDir(), "victim")
			must(t, os.WriteFile(victim, meta, 0o644))
			if tc.root {
				must(t, os.WriteFile(path+".part.meta", meta, 0o644))
				must(t, os.Chown(path+".part.meta", 65534, 65534))
			} else {
				must(t, os.Symlink(victim, path+".part.meta"))
			}
			// A partial file that is not the body's start: continuing it
			// would splice.
			must(t, os.WriteFile(path+".part", bytes.Repeat([]byte{'x'}, 1000), 0o644))
			n := len(rs.requests())
			var ev events
			opt.Resume, opt.Event = true, ev.add
			if _, err := download.File(context.Background(), url, path, opt); err != nil {
				t.Fatal(err)
			}
			// The restart says why: the sidecar is not one of ours.
			if len(ev.all) != 1 || ev.all[0].Kind != download.EventRestart || !strings.HasPrefix(ev.all[0].Reason, download.ErrSidecar.Error()+": ") {
				t.Errorf("events %+v, want one restart for the bad sidecar", ev.all)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, body) {
				t.Fatal("the file is not the body")
			}
			if h := rs.requests()[n]; h.Get("Range") != "" {
				t.Errorf("the first request carried Range %q: the sidecar was read", h.Get("Range"))
			}
			if b, _ := os.ReadFile(victim); !bytes.Equal(b, meta) {
				t.Errorf("the victim changed")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPartFileSwapped: a link put at FILE.part while the download runs is
// not renamed into place: the rename moves only the file written, so the
// download fails with ErrPartFile, FILE does not appear, and the link's
// target is untouched.
func TestPartFileSwapped(t *testing.T) {
	body := random(t, 256<<10)
	rs := &resource{}
	rs.set(body, `"v1"`, time.Time{})
	url, opt := startHTTPS(t, rs)
	dir := t.TempDir()
	path, victim := filepath.Join(dir, "fw.bin"), filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(victim, []byte("victim"), 0o644))
	swapped := false
	opt.Progress = func(done, total int64) {
		if done >= 64<<10 && !swapped {
			swapped = true
			must(t, os.Rename(path+".part", path+".moved"))
			must(t, os.Symlink(victim, path+".part"))
		}
	}
	_, err := download.File(context.Background(), url, path, opt)
	if !errors.Is(err, download.ErrPartFile) {
		t.Errorf("err %v, want ErrPartFile", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists: %v", path, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Errorf("the victim changed")
	}
	if b, _ := os.ReadFile(path + ".moved"); !bytes.Equal(b, body) {
		t.Errorf("the file written is not the body")
	}
}
