package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tlsapp-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "tlsapp")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is a finished run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runBin runs the binary with args and a time limit.
func runBin(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
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
		t.Fatalf("tlsapp %v: %v", args, err)
	}
	t.Logf("tlsapp %s -> %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// startServe starts "tlsapp serve" on a free port and returns its base URL
// and the CA file it wrote.
func startServe(t *testing.T, dir string, args ...string) (base, ca string) {
	t.Helper()
	ca = filepath.Join(t.TempDir(), "ca.pem")
	cmd := exec.Command(binPath, append([]string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--write-ca", ca}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading serve's first line: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " on ")
	if !ok || !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("serve's first line is %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return strings.TrimSuffix(url, "/"), ca
}

// firmware writes n random bytes to dir/name and returns their SHA-256.
func firmware(t *testing.T, dir, name string, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fileSHA(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestHelp(t *testing.T) {
	for _, c := range commands {
		r := runBin(t, c.name, "-h")
		if r.code != 0 || !strings.Contains(r.stderr, "Usage: tlsapp "+c.name) {
			t.Errorf("%s -h: status %d, help %q", c.name, r.code, r.stderr)
		}
	}
	if r := runBin(t, "nonsense"); r.code != 2 {
		t.Errorf("unknown command: status %d, want 2", r.code)
	}
	if r := runBin(t, "get", "--tls", "1.1", "https://127.0.0.1:1/"); r.code != 2 {
		t.Errorf("bad --tls: status %d, want 2", r.code)
	}
}

// TestDemo: the demo shows the download failing from crypto/tls alone on
// a record the device cannot hold, and succeeding through the listener
// with every record within the offer.
func TestDemo(t *testing.T) {
	r := runBin(t, "demo")
	if r.code != 0 {
		t.Fatalf("demo exited %d", r.code)
	}
	for _, want := range []string{
		"offered      max_fragment_length 2048 and record_size_limit 2048 (TLS 1.3,",
		"without      a Go crypto/tls server alone: FAILED after ",
		"(EMSGSIZE)",
		"with         the same server behind tlsapp.NewListener: done, 1048576 B, SHA-256 matches",
		"2048 + protection: every one within the offer",
		"verified by  \"CN=tlsapp throw-away CA",
		"heap",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo report lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "agreed") {
		t.Errorf("the demo speaks of an agreement that did not happen")
	}
	j := runBin(t, "demo", "--json")
	var rep demoReport
	if err := json.Unmarshal([]byte(j.stdout), &rep); err != nil {
		t.Fatalf("demo --json: %v", err)
	}
	if !rep.SHA256OK || !rep.WithinLimit || rep.Connection.Version != "TLS 1.3" || rep.Connection.LargestReceived > 2048+17 {
		t.Errorf("demo --json: %+v", rep)
	}
	if w := rep.Without; w.OK || w.RecordLen <= 2048+17 || !strings.Contains(w.Error, "EMSGSIZE") {
		t.Errorf("demo --json, without tlsapp: %+v", w)
	}
}

// TestGetSmallRecords downloads from "serve --max-record 2048" through a
// relay that reads every record header the server sends.
func TestGetSmallRecords(t *testing.T) {
	for _, tc := range []struct {
		version  string
		overhead int
	}{
		{"1.2", 24}, // AES-GCM: explicit nonce and tag
		{"1.3", 17}, // inner content type and tag
	} {
		t.Run("TLS"+tc.version, func(t *testing.T) {
			dir := t.TempDir()
			sum := firmware(t, dir, "fw.bin", 300<<10)
			base, ca := startServe(t, dir, "--max-record", "2048", "--tls", tc.version)
			rl := startRelay(t, strings.TrimPrefix(base, "https://"))
			out := filepath.Join(t.TempDir(), "fw.bin")
			r := runBin(t, "get", "--ca", ca, "--tls", tc.version,
				"-o", out, "--sha256", sum, "https://"+rl.addr()+"/fw.bin")
			if r.code != 0 {
				t.Fatalf("get exited %d", r.code)
			}
			if got := fileSHA(t, out); got != sum {
				t.Errorf("downloaded SHA-256 %s, want %s", got, sum)
			}
			_, largest, records, _ := rl.stats()
			if largest > 2048+tc.overhead {
				t.Errorf("largest server record %d > %d", largest, 2048+tc.overhead)
			}
			if records < (300<<10)/2048 {
				t.Errorf("only %d server records for 300 KiB", records)
			}
			t.Logf("%d server records, largest %d", records, largest)
		})
	}
}

// TestGetResume cuts the connection three times mid-transfer; get
// --range-chunk --resume must reconnect and finish with the right digest.
func TestGetResume(t *testing.T) {
	dir := t.TempDir()
	sum := firmware(t, dir, "fw.bin", 256<<10)
	base, ca := startServe(t, dir, "--max-record", "2048")
	rl := startRelay(t, strings.TrimPrefix(base, "https://"))
	rl.cutConnections(3, 40<<10)
	out := filepath.Join(t.TempDir(), "fw.bin")
	r := runBin(t, "get", "--ca", ca, "--rsl", "2048", "--range-chunk", "4096", "--resume",
		"--backoff", "10ms", "-o", out, "--sha256", sum, "https://"+rl.addr()+"/fw.bin")
	if r.code != 0 {
		t.Fatalf("get exited %d", r.code)
	}
	if got := fileSHA(t, out); got != sum {
		t.Errorf("downloaded SHA-256 %s, want %s", got, sum)
	}
	conns, _, _, cut := rl.stats()
	if cut != 3 || conns < 4 {
		t.Errorf("relay cut %d connections of %d, want 3 of at least 4", cut, conns)
	}
	if _, err := os.Stat(out + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.part left behind: %v", out, err)
	}
	// A cut before a response's headers arrive is retried by net/http
	// itself; a cut inside a body is get's own reconnection.
	t.Logf("get reconnected %d time(s) itself", strings.Count(r.stderr, "reconnecting"))
}

// TestGetResumeLater: a download without --resume that is cut keeps its
// .part file, and a second run with --resume finishes it.
func TestGetResumeLater(t *testing.T) {
	dir := t.TempDir()
	sum := firmware(t, dir, "fw.bin", 200<<10)
	base, ca := startServe(t, dir)
	rl := startRelay(t, strings.TrimPrefix(base, "https://"))
	rl.cutConnections(1, 50<<10)
	out := filepath.Join(t.TempDir(), "fw.bin")
	url := "https://" + rl.addr() + "/fw.bin"
	if r := runBin(t, "get", "--retry", "0", "--ca", ca, "-o", out, "--sha256", sum, url); r.code != exitPartial {
		t.Fatalf("a cut download without retries: status %d, want %d", r.code, exitPartial)
	}
	st, err := os.Stat(out + ".part")
	if err != nil || st.Size() == 0 {
		t.Fatalf("no partial file: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists after a failed download", out)
	}
	r := runBin(t, "get", "--ca", ca, "-o", out, "--sha256", sum, "--resume", url)
	if r.code != 0 || fileSHA(t, out) != sum {
		t.Fatalf("resumed download: status %d", r.code)
	}
	if !strings.Contains(r.stdout, fmt.Sprintf("resumed from %d", st.Size())) {
		t.Errorf("summary does not say where it resumed from")
	}
}

// TestGetMismatch: a wrong --sha256 fails and leaves the user's file alone.
func TestGetMismatch(t *testing.T) {
	dir := t.TempDir()
	firmware(t, dir, "fw.bin", 50<<10)
	base, ca := startServe(t, dir)
	out := filepath.Join(t.TempDir(), "fw.bin")
	if err := os.WriteFile(out, []byte("the user's old firmware"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, "get", "--ca", ca, "-o", out, "--sha256", strings.Repeat("ab", 32), base+"/fw.bin")
	if r.code == 0 || !strings.Contains(r.stderr, "SHA-256 mismatch") {
		t.Errorf("mismatch: status %d", r.code)
	}
	if b, _ := os.ReadFile(out); string(b) != "the user's old firmware" {
		t.Errorf("the user's file was changed")
	}
	if _, err := os.Stat(out + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".part left behind")
	}
	// Without a CA the server is not trusted: no retries, status 60.
	if r := runBin(t, "get", "--resume", "-o", out, base+"/fw.bin"); r.code != exitCertificate || strings.Contains(r.stderr, "reconnecting") {
		t.Errorf("untrusted server: status %d", r.code)
	}
}

// goServer is a Go crypto/tls HTTPS server, which answers neither
// max_fragment_length nor record_size_limit.
func goServer(t *testing.T, tlsVersion uint16) (addr, ca string) {
	t.Helper()
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ca = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{ta.Server},
		MaxVersion:   tlsVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 200<<10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}), ErrorLog: quietLog()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ca
}

// TestGetModem runs get --modem against a server that caps its records at
// 2048 content bytes (serve --max-record 2048 --tls 1.2): the image arrives
// right and the relay sees every server record within the modem's 2303
// bytes, in an AES-CBC suite; and against a Go crypto/tls server, whose
// records grow to 16 KiB: get fails, saying EMSGSIZE, with the length of
// a record the relay saw above 2303.
func TestGetModem(t *testing.T) {
	dir := t.TempDir()
	sum := firmware(t, dir, "fw.bin", 300<<10)
	base, ca := startServe(t, dir, "--max-record", "2048")
	rl := startRelay(t, strings.TrimPrefix(base, "https://"))
	out := filepath.Join(t.TempDir(), "fw.bin")
	r := runBin(t, "get", "--modem", "--json", "--ca", ca, "-o", out, "--sha256", sum, "https://"+rl.addr()+"/fw.bin")
	if r.code != 0 || fileSHA(t, out) != sum {
		t.Fatalf("get --modem against a capped server exited %d", r.code)
	}
	if !strings.Contains(r.stdout, `"version": "TLS 1.2"`) || !strings.Contains(r.stdout, "_CBC_") {
		t.Errorf("get --modem did not use TLS 1.2 in a CBC suite:\n%s", r.stdout)
	}
	if _, largest, _, _ := rl.stats(); largest > tlsapp.ModemRecordLimit {
		t.Errorf("largest server record %d, above the modem's %d", largest, tlsapp.ModemRecordLimit)
	}

	addr, ca := goServer(t, tls.VersionTLS12)
	rl = startRelay(t, addr)
	r = runBin(t, "get", "--modem", "--ca", ca, "-o", filepath.Join(t.TempDir(), "fw.bin"), "https://"+rl.addr()+"/fw.bin")
	if r.code != exitRecordLimit || !strings.Contains(r.stderr, "EMSGSIZE") {
		t.Fatalf("get --modem against 16 KiB records: exit %d; want %d and EMSGSIZE", r.code, exitRecordLimit)
	}
	_, largest, _, _ := rl.stats()
	if largest <= tlsapp.ModemRecordLimit || !strings.Contains(r.stderr, fmt.Sprintf("holds at most %d", tlsapp.ModemRecordLimit)) {
		t.Errorf("largest server record %d; stderr %q", largest, r.stderr)
	}
}
