package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testpki"
)

// The tests in this file give the tool bad input — malformed files, keys
// of other certificates, certificates outside their validity period, a
// server under the wrong name, missing tags, store paths that are not
// directories or cannot be written — and check that it exits non-zero,
// says on stderr what is wrong and where, and leaves the store as it was.

// writeFiles writes name → contents into dir and returns name → path.
func writeFiles(t *testing.T, dir string, files map[string][]byte) map[string]string {
	t.Helper()
	paths := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// treeOf returns every file and folder under dir with its mode and
// contents, or "absent" if dir does not exist.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		tree[rel] = fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tree[rel] += " " + string(b)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{".": "absent"}
	}
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// sameTree reports how two trees differ, or "" if they do not.
func sameTree(before, after map[string]string) string {
	for p, v := range before {
		if w, ok := after[p]; !ok {
			return p + " is gone"
		} else if v != w {
			return p + " changed"
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			return p + " appeared"
		}
	}
	return ""
}

// credList is the output of "cred list" on store, which must succeed.
func credList(t *testing.T, store string) string {
	t.Helper()
	r := runBin(t, "cred", "list", "--store", store)
	if r.code != 0 {
		t.Fatalf("cred list: status %d: %s", r.code, r.stderr)
	}
	return r.stdout
}

// badPKI is the material of these tests.
type badPKI struct {
	root, client, other   *testpki.Cert
	expiredCA, futureCA   *testpki.Cert
	server                *testpki.Cert     // for 127.0.0.1, issued by root
	expiredSrv, futureSrv *testpki.Cert     // for 127.0.0.1, issued by root
	underExpired          *testpki.Cert     // for 127.0.0.1, issued by expiredCA
	expiredCli, futureCli *testpki.Cert     // client certificates issued by root
	files                 map[string]string // name → path of the files to import
}

func newBadPKI(t *testing.T) *badPKI {
	now := time.Now()
	p := &badPKI{}
	p.root = testpki.Issue(t, "CLI Bad Input Root", true, now.Add(-time.Hour), now.Add(48*time.Hour), nil)
	p.client = testpki.Issue(t, "device-0001", false, now.Add(-time.Hour), now.Add(24*time.Hour), p.root)
	p.other = testpki.Issue(t, "device-0002", false, now.Add(-time.Hour), now.Add(24*time.Hour), p.root)
	p.expiredCA = testpki.Issue(t, "CLI Expired Root", true, now.Add(-72*time.Hour), now.Add(-24*time.Hour), nil)
	p.futureCA = testpki.Issue(t, "CLI Future Root", true, now.Add(24*time.Hour), now.Add(72*time.Hour), nil)
	p.server = testpki.Issue(t, "fw server", false, now.Add(-time.Hour), now.Add(24*time.Hour), p.root, "127.0.0.1", "fw.example")
	p.expiredSrv = testpki.Issue(t, "expired fw server", false, now.Add(-72*time.Hour), now.Add(-24*time.Hour), p.root, "127.0.0.1")
	p.futureSrv = testpki.Issue(t, "future fw server", false, now.Add(24*time.Hour), now.Add(72*time.Hour), p.root, "127.0.0.1")
	p.underExpired = testpki.Issue(t, "fw server under an expired root", false, now.Add(-72*time.Hour), now.Add(24*time.Hour), p.expiredCA, "127.0.0.1")
	p.expiredCli = testpki.Issue(t, "expired device", false, now.Add(-72*time.Hour), now.Add(-24*time.Hour), p.root)
	p.futureCli = testpki.Issue(t, "future device", false, now.Add(24*time.Hour), now.Add(72*time.Hour), p.root)
	cut := p.other.PEM[:len(p.other.PEM)/2]
	p.files = writeFiles(t, t.TempDir(), map[string][]byte{
		"root.pem":        p.root.PEM,
		"device.pem":      p.client.PEM,
		"device.key":      p.client.KeyPEM,
		"other.pem":       p.other.PEM,
		"other.key":       p.other.KeyPEM,
		"bad-base64.pem":  []byte("-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n"),
		"cut.pem":         cut,
		"bundle-cut.pem":  append(append([]byte{}, p.root.PEM...), cut...),
		"trailing.pem":    append(append([]byte{}, p.root.PEM...), 0x00, 0xff, 0x30, 0x82),
		"empty.pem":       nil,
		"garbage.der":     {0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x00},
		"bad-base64.key":  []byte("-----BEGIN PRIVATE KEY-----\nMIGH*not*base64\n-----END PRIVATE KEY-----\n"),
		"expired-ca.pem":  p.expiredCA.PEM,
		"future-ca.pem":   p.futureCA.PEM,
		"expired-dev.pem": p.expiredCli.PEM,
		"expired-dev.key": p.expiredCli.KeyPEM,
		"future-dev.pem":  p.futureCli.PEM,
		"future-dev.key":  p.futureCli.KeyPEM,
	})
	return p
}

// seededStore is a store holding tag 1: the root, tag 2: the device's
// certificate and key, imported through the tool.
func (p *badPKI) seededStore(t *testing.T) string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	for _, args := range [][]string{
		{"cred", "import", "--store", store, "--tag", "1", "--kind", "ca", p.files["root.pem"]},
		{"cred", "import", "--store", store, "--tag", "2", "--kind", "cert", p.files["device.pem"], p.files["device.key"]},
	} {
		if r := runBin(t, args...); r.code != 0 {
			t.Fatalf("%v: status %d: %s", args, r.code, r.stderr)
		}
	}
	return store
}

// TestBadInputCredImport imports bad files into a store holding a CA and a
// device pair: every import fails with status 1 and a message naming the
// file, the tag and kind, and the problem, and the store is unchanged.
func TestBadInputCredImport(t *testing.T) {
	p := newBadPKI(t)
	store := p.seededStore(t)
	f := p.files
	imp := func(tag, kind string, files ...string) []string {
		return append([]string{"cred", "import", "--store", store, "--tag", tag, "--kind", kind}, files...)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		says []string
	}{
		{"bad base64", imp("1", "ca", f["bad-base64.pem"]), 1, []string{"bad-base64.pem", "tag 1 ca", "malformed PEM", "block 1", "does not decode"}},
		{"truncated block", imp("1", "ca", f["cut.pem"]), 1, []string{"cut.pem", "tag 1 ca", "cut short: no END line"}},
		{"truncated second certificate", imp("3", "ca", f["bundle-cut.pem"]), 1, []string{"bundle-cut.pem", "tag 3 ca", "block 2", "cut short"}},
		{"trailing garbage", imp("1", "ca", f["trailing.pem"]), 1, []string{"trailing.pem", "binary data after PEM block 1"}},
		{"key as a CA", imp("1", "ca", f["other.key"]), 1, []string{"other.key", "tag 1 ca", `unexpected PEM block 1 "PRIVATE KEY"`}},
		{"certificate as a key", imp("2", "key", f["other.pem"]), 1, []string{"other.pem", "tag 2 key", `unexpected PEM block 1 "CERTIFICATE"`}},
		{"empty file", imp("1", "ca", f["empty.pem"]), 1, []string{"empty.pem", "tag 1 ca", "empty"}},
		{"empty key", imp("2", "key", f["empty.pem"]), 1, []string{"empty.pem", "tag 2 key", "empty"}},
		{"DER garbage", imp("1", "ca", f["garbage.der"]), 1, []string{"garbage.der", "not a PEM or DER certificate"}},
		{"bad base64 key", imp("2", "key", f["bad-base64.key"]), 1, []string{"bad-base64.key", "tag 2 key", "does not decode"}},
		{"leaf as a CA", imp("1", "ca", f["other.pem"]), 1, []string{"other.pem", `"CN=device-0002" is not a CA certificate`}},
		{"key of another certificate", imp("2", "key", f["other.key"]), 1,
			[]string{"other.key", "tag 2 key", "does not match", `"CN=device-0001"`, "--kind cert CERTFILE KEYFILE"}},
		{"certificate of another key", imp("2", "cert", f["other.pem"]), 1,
			[]string{"other.pem", "tag 2 cert", "does not match", `"CN=device-0002"`, "key stored under tag 2"}},
		{"pair that does not match", imp("2", "cert", f["device.pem"], f["other.key"]), 1,
			[]string{"other.key", "does not match", `"CN=device-0001"`, "device.pem"}},
		{"pair with a malformed key in a new tag", imp("4", "cert", f["other.pem"], f["bad-base64.key"]), 1,
			[]string{"bad-base64.key", "tag 4 key", "does not decode"}},
		{"expired CA", imp("3", "ca", f["expired-ca.pem"]), 1,
			[]string{"expired-ca.pem", "refused", `"CN=CLI Expired Root" has expired`, p.expiredCA.Cert.NotAfter.UTC().Format("2006-01-02 15:04:05"), "--allow-expired"}},
		{"CA not yet valid", imp("3", "ca", f["future-ca.pem"]), 1,
			[]string{"future-ca.pem", `"CN=CLI Future Root" is not valid yet`, p.futureCA.Cert.NotBefore.UTC().Format("2006-01-02 15:04:05")}},
		{"expired device certificate", imp("2", "cert", f["expired-dev.pem"], f["expired-dev.key"]), 1,
			[]string{"expired-dev.pem", `"CN=expired device" has expired`}},
		{"device certificate not yet valid", imp("4", "cert", f["future-dev.pem"], f["future-dev.key"]), 1,
			[]string{"future-dev.pem", `"CN=future device" is not valid yet`}},
		{"missing file", imp("1", "ca", filepath.Join(t.TempDir(), "missing.pem")), 1, []string{"missing.pem", "no such file"}},
		{"unknown kind", imp("1", "psk", f["root.pem"]), 2, []string{`unknown kind "psk"`}},
		{"a key with two files", imp("2", "key", f["device.key"], f["other.key"]), 2, []string{"import needs one FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, tree := credList(t, store), treeOf(t, store)
			r := runBin(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("status %d, want %d", r.code, tc.code)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			if r.stdout != "" {
				t.Errorf("a refused import printed %q", r.stdout)
			}
			if again := credList(t, store); again != list {
				t.Errorf("cred list changed:\n%s\nwas\n%s", again, list)
			}
			if diff := sameTree(tree, treeOf(t, store)); diff != "" {
				t.Errorf("the store directory changed: %s", diff)
			}
		})
	}

	// --allow-expired stores an expired CA; show says it has expired.
	if r := runBin(t, imp("3", "ca", "--allow-expired", f["expired-ca.pem"])...); r.code != 0 {
		t.Fatalf("--allow-expired: status %d: %s", r.code, r.stderr)
	}
	show := runBin(t, "cred", "show", "--store", store, "--tag", "3")
	if show.code != 0 || !strings.Contains(show.stdout, "CN=CLI Expired Root") || !strings.Contains(show.stdout, "EXPIRED") {
		t.Errorf("show of an expired CA: status %d, %q", show.code, show.stdout)
	}
	if show := runBin(t, "cred", "show", "--store", store, "--tag", "1"); strings.Contains(show.stdout, "EXPIRED") || strings.Contains(show.stdout, "NOT VALID") {
		t.Errorf("show calls a valid CA invalid: %q", show.stdout)
	}
}

// TestBadInputCredMissing shows and removes what is not stored.
func TestBadInputCredMissing(t *testing.T) {
	p := newBadPKI(t)
	store := p.seededStore(t)
	for _, tc := range []struct {
		args []string
		says []string
	}{
		{[]string{"show", "--tag", "9"}, []string{"not found", "tag 9", store}},
		{[]string{"show", "--tag", "9", "--kind", "ca"}, []string{"not found", "tag 9 ca", store}},
		{[]string{"show", "--tag", "1", "--kind", "key"}, []string{"not found", "tag 1 key"}},
		{[]string{"rm", "--tag", "9", "--kind", "ca"}, []string{"not found", "tag 9 ca", store}},
		{[]string{"rm", "--tag", "1", "--kind", "cert"}, []string{"not found", "tag 1 cert"}},
		{[]string{"rm", "--tag", "2", "--kind", "session"}, []string{"not found", "tag 2 session"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			list, tree := credList(t, store), treeOf(t, store)
			r := runBin(t, append([]string{"cred", tc.args[0], "--store", store}, tc.args[1:]...)...)
			if r.code != 1 {
				t.Errorf("status %d, want 1", r.code)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			if again := credList(t, store); again != list {
				t.Errorf("cred list changed:\n%s\nwas\n%s", again, list)
			}
			if diff := sameTree(tree, treeOf(t, store)); diff != "" {
				t.Errorf("the store directory changed: %s", diff)
			}
		})
	}
}

// TestBadInputStorePath points --store at a regular file, below one, and
// at nothing: every command fails naming the path, nothing is created and
// the file is untouched.
func TestBadInputStorePath(t *testing.T) {
	p := newBadPKI(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "creds.txt")
	if err := os.WriteFile(file, []byte("not a store"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-store")
	for _, tc := range []struct {
		name  string
		store string
		args  []string
		says  []string
	}{
		{"import into a file", file, []string{"import", "--tag", "1", "--kind", "ca", p.files["root.pem"]}, []string{file, "not a directory"}},
		{"import below a file", filepath.Join(file, "store"), []string{"import", "--tag", "1", "--kind", "ca", p.files["root.pem"]}, []string{file, "not a directory"}},
		{"list of a file", file, []string{"list"}, []string{file, "not a directory"}},
		{"show of a file", file, []string{"show", "--tag", "1"}, []string{file, "not a directory"}},
		{"rm in a file", file, []string{"rm", "--tag", "1", "--kind", "ca"}, []string{file, "not a directory"}},
		{"list of nothing", missing, []string{"list"}, []string{missing, "no such file or directory"}},
		{"show of nothing", missing, []string{"show", "--tag", "1"}, []string{missing, "no such file or directory"}},
		{"rm in nothing", missing, []string{"rm", "--tag", "1", "--kind", "ca"}, []string{missing, "no such file or directory"}},
		{"get through a file", file, nil, []string{file, "not a directory"}},
		{"get through nothing", missing, nil, []string{missing, "no such file or directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := treeOf(t, dir)
			args := []string{"get", "--store", tc.store, "-o", filepath.Join(t.TempDir(), "out"), "https://127.0.0.1:1/fw.bin"}
			if tc.args != nil {
				args = append([]string{"cred", tc.args[0], "--store", tc.store}, tc.args[1:]...)
			}
			r := runBin(t, args...)
			want := 1
			if tc.args == nil {
				want = exitCAFile // get: the trust store cannot be read
			}
			if r.code != want {
				t.Errorf("status %d, want %d", r.code, want)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			if diff := sameTree(tree, treeOf(t, dir)); diff != "" {
				t.Errorf("the folder holding the store changed: %s", diff)
			}
		})
	}
}

// runAs runs bin with args as the user uid (when it is not the current
// one), with a time limit.
func runAs(t *testing.T, uid int, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if uid != os.Geteuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("tlsapp %v as uid %d: %v", args, uid, err)
	}
	t.Logf("tlsapp %s (uid %d) -> %d\n%s%s", strings.Join(args, " "), uid, r.code, r.stdout, r.stderr)
	return r
}

// TestBadInputReadOnlyStore imports into a store whose folders are mode
// 0500. Root writes through such modes, so as root the tool runs as the
// unprivileged user 65534 that owns the store.
func TestBadInputReadOnlyStore(t *testing.T) {
	p := newBadPKI(t)
	uid, bin := os.Geteuid(), binPath
	// A folder every user can reach, holding the binary and the store.
	base, err := os.MkdirTemp("", "tlsapp-readonly")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if uid == 0 {
		uid, bin = 65534, filepath.Join(base, "tlsapp")
		src, err := os.ReadFile(binPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, src, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := filepath.Join(base, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"root.pem", "other.pem", "other.key"} {
		src, _ := os.ReadFile(p.files[name])
		if err := os.WriteFile(filepath.Join(files, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	store := filepath.Join(base, "store")
	for _, args := range [][]string{
		{"cred", "import", "--store", store, "--tag", "1", "--kind", "ca", filepath.Join(files, "root.pem")},
		{"cred", "import", "--store", store, "--tag", "2", "--kind", "cert", p.files["device.pem"], p.files["device.key"]},
	} {
		if r := runBin(t, args...); r.code != 0 {
			t.Fatalf("%v: status %d", args, r.code)
		}
	}
	if uid != os.Geteuid() {
		err := filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, uid)
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := runAs(t, uid, bin, "cred", "list", "--store", store); r.code != 0 {
			t.Skipf("cannot run the tool as uid %d (status %d: %s); a read-only store cannot be tested as root", uid, r.code, r.stderr)
		}
	}
	list := runAs(t, uid, bin, "cred", "list", "--store", store).stdout
	for _, tc := range []struct {
		name     string
		readOnly []string // folders made mode 0500
		args     []string
		says     []string
	}{
		{"new tag in a read-only store", []string{store}, []string{"--tag", "5", "--kind", "ca", filepath.Join(files, "root.pem")},
			[]string{"tag 5 ca", filepath.Join(store, "5"), "permission denied"}},
		{"read-only tag folder", []string{filepath.Join(store, "1")}, []string{"--tag", "1", "--kind", "ca", filepath.Join(files, "root.pem")},
			[]string{"tag 1 ca", filepath.Join(store, "1"), "permission denied"}},
		{"pair into a read-only tag folder", []string{filepath.Join(store, "2")},
			[]string{"--tag", "2", "--kind", "cert", filepath.Join(files, "other.pem"), filepath.Join(files, "other.key")},
			[]string{"tag 2 key", filepath.Join(store, "2"), "permission denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range tc.readOnly {
				if err := os.Chmod(d, 0o500); err != nil {
					t.Fatal(err)
				}
				defer os.Chmod(d, 0o700)
			}
			tree := treeOf(t, store)
			r := runAs(t, uid, bin, append([]string{"cred", "import", "--store", store}, tc.args...)...)
			if r.code != 1 {
				t.Errorf("status %d, want 1", r.code)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			if again := runAs(t, uid, bin, "cred", "list", "--store", store); again.code != 0 || again.stdout != list {
				t.Errorf("cred list of the read-only store: status %d\n%s\nwas\n%s", again.code, again.stdout, list)
			}
			if diff := sameTree(tree, treeOf(t, store)); diff != "" {
				t.Errorf("the store directory changed: %s", diff)
			}
		})
	}
}

// badTLSServer serves "firmware" over HTTPS on 127.0.0.1 with cert and
// returns its base URL.
func badTLSServer(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "firmware")
	}), ErrorLog: quietLog()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// TestBadInputGetVerification downloads from servers whose certificate has
// expired, is not valid yet, chains to an expired root, or is for other
// names: get fails with status 1, names the certificate and its validity
// period or the name, writes no output, and the store is unchanged.
func TestBadInputGetVerification(t *testing.T) {
	p := newBadPKI(t)
	store := p.seededStore(t)
	if r := runBin(t, "cred", "import", "--store", store, "--tag", "3", "--kind", "ca", "--allow-expired", p.files["expired-ca.pem"]); r.code != 0 {
		t.Fatalf("import of the expired root: status %d", r.code)
	}
	good := badTLSServer(t, p.server.TLS())
	expired := badTLSServer(t, p.expiredSrv.TLS())
	future := badTLSServer(t, p.futureSrv.TLS())
	underExpired := badTLSServer(t, p.underExpired.TLS())
	layout := "2006-01-02 15:04:05"
	ca := p.files["root.pem"]
	for _, tc := range []struct {
		name string
		url  string
		args []string
		says []string
	}{
		{"expired server certificate, --ca", expired, []string{"--ca", ca}, []string{"root.pem", "CN=CLI Bad Input Root",
			`"CN=expired fw server" has expired`, p.expiredSrv.Cert.NotBefore.UTC().Format(layout), p.expiredSrv.Cert.NotAfter.UTC().Format(layout)}},
		{"expired server certificate, --store", expired, []string{"--store", store, "--tags", "1"}, []string{`tag 1 "CN=CLI Bad Input Root"`,
			`"CN=expired fw server" has expired`, p.expiredSrv.Cert.NotAfter.UTC().Format(layout)}},
		{"server certificate not yet valid", future, []string{"--ca", ca}, []string{
			`"CN=future fw server" is not valid yet`, p.futureSrv.Cert.NotBefore.UTC().Format(layout)}},
		{"server certificate not yet valid, --store", future, []string{"--store", store}, []string{
			`"CN=future fw server" is not valid yet`, p.futureSrv.Cert.NotBefore.UTC().Format(layout)}},
		{"expired root in the store", underExpired, []string{"--store", store, "--tags", "3"}, []string{`tag 3 "CN=CLI Expired Root"`,
			`"CN=CLI Expired Root" has expired`, p.expiredCA.Cert.NotAfter.UTC().Format(layout)}},
		{"expired root as --ca", underExpired, []string{"--ca", p.files["expired-ca.pem"]}, []string{"expired-ca.pem",
			`"CN=CLI Expired Root" has expired`}},
		{"wrong name, --ca", good, []string{"--ca", ca, "--servername", "wrong.example"}, []string{`"wrong.example"`, "not wrong.example", "root.pem"}},
		{"wrong name, --store", good, []string{"--store", store, "--tags", "1,3", "--servername", "wrong.example"}, []string{
			"no trust anchor verifies wrong.example", "not wrong.example", `tag 1 "CN=CLI Bad Input Root"`, `tag 3 "CN=CLI Expired Root"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, tree := credList(t, store), treeOf(t, store)
			out := filepath.Join(t.TempDir(), "fw.bin")
			r := runBin(t, append(append([]string{"get", "-o", out}, tc.args...), tc.url+"/fw.bin")...)
			if r.code != exitCertificate {
				t.Errorf("status %d, want %d", r.code, exitCertificate)
			}
			for _, want := range tc.says {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			for _, f := range []string{out, out + ".part"} {
				if _, err := os.Stat(f); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was left behind: %v", f, err)
				}
			}
			if again := credList(t, store); again != list {
				t.Errorf("cred list changed:\n%s\nwas\n%s", again, list)
			}
			if diff := sameTree(tree, treeOf(t, store)); diff != "" {
				t.Errorf("the store directory changed: %s", diff)
			}
		})
	}
	// The same server under its own names works, through both kinds of
	// anchor: the failures above are the certificates', not the setup's.
	for _, args := range [][]string{{"--ca", ca}, {"--store", store, "--tags", "1"}, {"--ca", ca, "--servername", "fw.example"}} {
		out := filepath.Join(t.TempDir(), "fw.bin")
		if r := runBin(t, append(append([]string{"get", "-o", out}, args...), good+"/fw.bin")...); r.code != 0 {
			t.Errorf("get %v from the good server: status %d", args, r.code)
		}
	}
}
