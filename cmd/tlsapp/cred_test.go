package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
