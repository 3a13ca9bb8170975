package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/credstore"
	"github.com/tlsapp/tlsapp/internal/testpki"
)

// TestCred round-trips a store through the built binary: import, list,
// show, rm, a refused import that leaves the store as it was, and a get
// that verifies the server against every CA of the selected tags and names
// the one that worked.
func TestCred(t *testing.T) {
	files := t.TempDir()
	os.WriteFile(filepath.Join(files, "image.bin"), []byte(strings.Repeat("firmware", 4096)), 0o644)
	_, otherCA := startServe(t, files)               // a CA that does not verify the next server
	base, ca := startServe(t, files, "--tls", "1.3") // the server get talks to
	store := filepath.Join(t.TempDir(), "store")

	for _, step := range [][]string{
		{"cred", "import", "--store", store, "--tag", "1", "--kind", "ca", otherCA},
		{"cred", "import", "--store", store, "--tag", "2", "--kind", "ca", ca},
	} {
		if r := runBin(t, step...); r.code != 0 || !strings.Contains(r.stdout, "imported") {
			t.Fatalf("%v: status %d", step, r.code)
		}
	}
	list := runBin(t, "cred", "list", "--store", store)
	if list.code != 0 || strings.Count(list.stdout, "sha256:") != 2 || !strings.Contains(list.stdout, "tag 1") {
		t.Fatalf("list: %q", list.stdout)
	}
	if show := runBin(t, "cred", "show", "--store", store, "--tag", "2"); show.code != 0 || !strings.Contains(show.stdout, "throw-away CA") {
		t.Errorf("show: %q", show.stdout)
	}

	bad := filepath.Join(t.TempDir(), "broken.pem")
	os.WriteFile(bad, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o644)
	r := runBin(t, "cred", "import", "--store", store, "--tag", "1", "--kind", "ca", bad)
	if r.code == 0 || !strings.Contains(r.stderr, "broken.pem") {
		t.Errorf("a broken import: status %d, %q", r.code, r.stderr)
	}
	if again := runBin(t, "cred", "list", "--store", store); again.stdout != list.stdout {
		t.Errorf("a refused import changed the store:\n%s\nvs\n%s", again.stdout, list.stdout)
	}

	out := filepath.Join(t.TempDir(), "image.bin")
	get := runBin(t, "get", "--store", store, "--tags", "1,2", "--rsl", "2048", "-o", out, base+"/image.bin")
	if get.code != 0 || !strings.Contains(get.stdout+get.stderr, "verified by  tag 2:") {
		t.Fatalf("get through the store: status %d", get.code)
	}

	if r := runBin(t, "cred", "rm", "--store", store, "--tag", "2", "--kind", "ca"); r.code != 0 {
		t.Fatalf("rm: status %d", r.code)
	}
	if r := runBin(t, "get", "--store", store, "--tags", "1", "-o", out, base+"/image.bin"); r.code == 0 ||
		!strings.Contains(r.stderr, "tag 1") {
		t.Errorf("get with only the wrong CA: status %d, want a failure naming the anchor tried", r.code)
	}
	if r := runBin(t, "cred", "show", "--store", store, "--tag", "9"); r.code == 0 {
		t.Error("show of a missing tag succeeded")
	}
}

// TestCredImportPairProcesses runs two "tlsapp cred import --kind cert
// CERT KEY" processes with different pairs into one store at once, 40
// times: the tag always holds a certificate and its own key afterwards.
func TestCredImportPairProcesses(t *testing.T) {
	ctx := context.Background()
	ca := testpki.Issue(t, "Pair CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	files := t.TempDir()
	for _, cn := range []string{"a", "b"} {
		c := testpki.Issue(t, "device-"+cn, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ca)
		os.WriteFile(filepath.Join(files, cn+".pem"), c.PEM, 0o644)
		os.WriteFile(filepath.Join(files, cn+".key"), c.KeyPEM, 0o600)
	}
	store := filepath.Join(t.TempDir(), "store")
	bad := 0
	for round := 0; round < 40; round++ {
		var cmds []*exec.Cmd
		for _, cn := range []string{"a", "b"} {
			cmd := exec.Command(binPath, "cred", "import", "--store", store, "--tag", "5", "--kind", "cert",
				filepath.Join(files, cn+".pem"), filepath.Join(files, cn+".key"))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		s, err := credstore.OpenDir(store)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := credstore.LoadKeyPair(ctx, s, 5); errors.Is(err, credstore.ErrKeyMismatch) {
			bad++
		} else if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if bad > 0 {
		t.Errorf("%d of 40 rounds of two imports left a mismatched pair", bad)
	}
}

// runTimed runs the binary like runBin and fails the test if it takes
// longer than limit.
func runTimed(t *testing.T, limit time.Duration, args ...string) result {
	t.Helper()
	start := time.Now()
	r := runBin(t, args...)
	if d := time.Since(start); d > limit {
		t.Errorf("tlsapp %s took %v, want under %v", strings.Join(args, " "), d.Round(time.Millisecond), limit)
	}
	return r
}

// TestCredBadFiles runs the binary on the bad files of the field reports:
// /dev/zero and a 16 GiB file to import, a FIFO named cert.pem in the
// store, a store folder anyone can write. Each ends within seconds with
// exit status 1 and says what is wrong.
func TestCredBadFiles(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	ca := testpki.Issue(t, "Bad Files CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	if r := runBin(t, "cred", "import", "--store", store, "--tag", "1", "--kind", "ca", caFile); r.code != 0 {
		t.Fatalf("import: status %d", r.code)
	}
	huge := filepath.Join(dir, "huge.pem")
	if f, err := os.Create(huge); err == nil {
		f.Truncate(16 << 30)
		f.Close()
	}
	fifoIn := filepath.Join(dir, "in.pem")
	if err := syscall.Mkfifo(fifoIn, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		file string
		want string
	}{
		{"dev-zero", "/dev/zero", "not a regular file (a character device)"},
		{"fifo", fifoIn, "not a regular file (a FIFO)"},
		{"16 GiB", huge, "larger than the limit of 1048576 bytes"},
	} {
		t.Run("import "+tc.name, func(t *testing.T) {
			r := runTimed(t, 10*time.Second, "cred", "import", "--store", store, "--tag", "2", "--kind", "ca", tc.file)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("status %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
		})
	}

	t.Run("fifo in the store", func(t *testing.T) {
		os.Mkdir(filepath.Join(store, "3"), 0o700)
		fifo := filepath.Join(store, "3", "cert.pem")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(fifo)
		for _, sub := range []string{"list", "show"} {
			r := runTimed(t, 10*time.Second, "cred", sub, "--store", store, "--tag", "3")
			if r.code != 1 || !strings.Contains(r.stderr, "FIFO") {
				t.Errorf("%s: status %d, stderr %q; want 1 and a word about the FIFO", sub, r.code, r.stderr)
			}
		}
	})

	t.Run("store writable by all", func(t *testing.T) {
		if err := os.Chmod(store, 0o777); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(store, 0o700)
		for _, args := range [][]string{
			{"cred", "list", "--store", store},
			{"cred", "import", "--store", store, "--tag", "4", "--kind", "ca", caFile},
		} {
			r := runTimed(t, 10*time.Second, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "can be written by group or others") {
				t.Errorf("%s: status %d, stderr %q; want 1 and a refusal", args[1], r.code, r.stderr)
			}
		}
		os.Chmod(store, 0o700)
		if r := runBin(t, "cred", "list", "--store", store, "--tag", "4"); r.code != 0 || r.stdout != "" {
			t.Errorf("an import into a store writable by all stored something: %q", r.stdout)
		}
	})
}

// TestCredSignals starts "tlsapp cred import" while another process holds
// the store's lock, so that it waits, and sends it SIGTERM or SIGINT: it
// ends within 2 s with a failure, having written nothing.
func TestCredSignals(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	ca := testpki.Issue(t, "Signal CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	if r := runBin(t, "cred", "import", "--store", store, "--tag", "1", "--kind", "ca", caFile); r.code != 0 {
		t.Fatalf("import: status %d", r.code)
	}
	lock, err := os.Open(filepath.Join(store, ".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(binPath, "cred", "import", "--store", store, "--tag", "2", "--kind", "ca", caFile)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				t.Fatalf("import did not wait for the lock: %v, %s", err, stderr.String())
			case <-time.After(500 * time.Millisecond):
			}
			cmd.Process.Signal(sig)
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() == 0 {
					t.Errorf("after %v: %v, want a failure", sig, err)
				}
			case <-time.After(2 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 2 s after %v", sig)
			}
		})
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if r := runBin(t, "cred", "list", "--store", store, "--tag", "2"); r.code != 0 || r.stdout != "" {
		t.Errorf("an interrupted import stored something: %q", r.stdout)
	}
}

// TestCredTagFlag checks that --tag takes every uint32 and nothing else
// (a usage error, exit status 2, instead of a tag cut to 32 bits), and that
// list --tag lists one tag.
func TestCredTagFlag(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	ca := testpki.Issue(t, "Tag CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o644)
	for _, tag := range []string{"1", "7", "4294967295"} {
		if r := runBin(t, "cred", "import", "--store", store, "--tag", tag, "--kind", "ca", caFile); r.code != 0 {
			t.Fatalf("import --tag %s: status %d", tag, r.code)
		}
	}
	for _, tag := range []string{"0", "99999999999", "4294967296", "-1", "0x10", "seven", ""} {
		r := runBin(t, "cred", "import", "--store", store, "--tag", tag, "--kind", "ca", caFile)
		if r.code != 2 || !strings.Contains(r.stderr, "tag") {
			t.Errorf("--tag %q: status %d, want 2 (usage)", tag, r.code)
		}
	}
	for _, tc := range []struct {
		tag  string
		want []string // tags listed
	}{
		{"", []string{"1", "7", "4294967295"}},
		{"7", []string{"7"}},
		{"4294967295", []string{"4294967295"}},
		{"8", nil},
	} {
		args := []string{"cred", "list", "--store", store, "--json"}
		if tc.tag != "" {
			args = append(args, "--tag", tc.tag)
		}
		r := runBin(t, args...)
		var rows []struct{ Tag uint32 }
		if err := json.Unmarshal([]byte(r.stdout), &rows); r.code != 0 || err != nil {
			t.Fatalf("list --tag %s: status %d, %v", tc.tag, r.code, err)
		}
		var got []string
		for _, row := range rows {
			got = append(got, strconv.FormatUint(uint64(row.Tag), 10))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("list --tag %q: tags %v, want %v", tc.tag, got, tc.want)
		}
	}
}

// TestCredImportKilled kills "tlsapp cred import" with SIGKILL at random
// points, alternating two key pairs and a lone key into one tag (issue 17,
// item 8: after 100 such kills 32 hidden temporary and undo files were
// left, 18 of them holding a private key, and cred rm left them all). After
// every kill the store is opened: it must recover or remove every leftover,
// so that no file other than the tag's key.pem holds a private key and the
// tag holds a certificate and its own key. At the end "cred rm" of both
// leaves no tag folder behind. The kills must have left something to
// clean: the test runs until 20 of them did (at most 500 rounds).
func TestCredImportKilled(t *testing.T) {
	ctx := context.Background()
	ca := testpki.Issue(t, "Killed CA", true, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	files := t.TempDir()
	for _, cn := range []string{"a", "b"} {
		c := testpki.Issue(t, "device-"+cn, false, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ca)
		os.WriteFile(filepath.Join(files, cn+".pem"), c.PEM, 0o644)
		os.WriteFile(filepath.Join(files, cn+".key"), c.KeyPEM, 0o600)
	}
	store := filepath.Join(t.TempDir(), "store")
	tagDir := filepath.Join(store, "7")
	args := func(round int) []string {
		cn := []string{"a", "b"}[round%2]
		if round%5 == 4 {
			// The key alone: refused unless it matches the certificate
			// held, and killed either way.
			return []string{"cred", "import", "--store", store, "--tag", "7", "--kind", "key", filepath.Join(files, cn+".key")}
		}
		return []string{"cred", "import", "--store", store, "--tag", "7", "--kind", "cert", filepath.Join(files, cn+".pem"), filepath.Join(files, cn+".key")}
	}
	// How long an import takes here: the kills fall within it.
	start := time.Now()
	if r := runBin(t, args(0)...); r.code != 0 {
		t.Fatalf("import: status %d: %s", r.code, r.stderr)
	}
	took := time.Since(start)
	rounds, dirty, leftovers, keys := 0, 0, 0, 0
	for ; rounds < 500 && (rounds < 100 || dirty < 20); rounds++ {
		cmd := exec.Command(binPath, args(rounds)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(took))))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		left := hiddenFiles(t, store)
		if len(left) > 0 {
			dirty++
		}
		leftovers += len(left)
		for _, p := range left {
			if b, _ := os.ReadFile(filepath.Join(store, p)); strings.Contains(string(b), "PRIVATE KEY") {
				keys++
			}
		}

		s, err := credstore.OpenDir(store)
		if err != nil {
			t.Fatalf("round %d: %v", rounds, err)
		}
		if _, err := credstore.LoadKeyPair(ctx, s, 7); err != nil {
			t.Errorf("round %d: %v", rounds, err)
		}
		if left := hiddenFiles(t, store); len(left) > 0 {
			t.Errorf("round %d: left after the store was opened: %v", rounds, left)
		}
		filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "PRIVATE KEY") && p != filepath.Join(tagDir, "key.pem") {
				t.Errorf("round %d: %s holds a private key after the store was opened", rounds, p)
			}
			return nil
		})
		if t.Failed() {
			return
		}
	}
	t.Logf("an import takes %v; %d kills in %d left %d temporary or undo files, %d of them holding a private key; opening the store removed them", took, dirty, rounds, leftovers, keys)
	if dirty < 20 {
		t.Fatalf("only %d of %d kills left anything to clean", dirty, rounds)
	}
	for _, kind := range []string{"key", "cert"} {
		if r := runBin(t, "cred", "rm", "--store", store, "--tag", "7", "--kind", kind); r.code != 0 {
			t.Fatalf("rm %s: status %d: %s", kind, r.code, r.stderr)
		}
	}
	if entries, err := os.ReadDir(tagDir); !errors.Is(err, os.ErrNotExist) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after cred rm of the key and the certificate, the tag folder holds %v (%v)", names, err)
	}
}

// hiddenFiles lists the files whose names start with a dot in the tag
// folders of a directory store (the store's own .lock aside).
func hiddenFiles(t *testing.T, store string) []string {
	t.Helper()
	var out []string
	tags, _ := os.ReadDir(store)
	for _, tag := range tags {
		if !tag.IsDir() {
			continue
		}
		entries, _ := os.ReadDir(filepath.Join(store, tag.Name()))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				out = append(out, filepath.Join(tag.Name(), e.Name()))
			}
		}
	}
	return out
}
