package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
)

// runWith runs the binary with extra environment variables and stdout
// going to stdout when it is not nil.
func runWith(t *testing.T, env []string, stdout *os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdout != nil {
		cmd.Stdout = stdout
	}
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
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

// freePort returns an address on 127.0.0.1 where nothing listens.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentServer accepts TCP connections and never says a word.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 30*time.Second, func(c net.Conn) { io.Copy(io.Discard, c) })
	return ln.Addr().String()
}

// TestExitCodes runs get and probe against a real cause of each failure on
// 127.0.0.1 and checks the status it exits with: curl's number where curl
// has one for the failure, the project's own where it has not.
func TestExitCodes(t *testing.T) {
	body, sum := randomBody(256 << 10)
	im := &image{}
	im.set(body, `"fw-1"`)
	base, ca := httpsServer(t, im) // crypto/tls: answers neither extension, 16 KiB records
	notFound, notFoundCA := httpsServer(t, http.NotFoundHandler())

	// A server of another CA than ca, and one whose certificate does not
	// name 127.0.0.1.
	ta, err := newThrowaway("localhost")
	if err != nil {
		t.Fatal(err)
	}
	wrongName, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ta.Server}})
	if err != nil {
		t.Fatal(err)
	}
	go (&http.Server{Handler: im, ErrorLog: quietLog()}).Serve(wrongName)
	t.Cleanup(func() { wrongName.Close() })
	wrongNameCA := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(wrongNameCA, pemCert(ta.CA), 0o644)

	// TLS 1.3 only, for a client that insists on 1.2.
	only13, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{mustThrowaway(t).Server}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	go (&http.Server{Handler: im, ErrorLog: quietLog()}).Serve(only13)
	t.Cleanup(func() { only13.Close() })

	// Plain HTTP where HTTPS is expected.
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go (&http.Server{Handler: im, ErrorLog: quietLog()}).Serve(plain)
	t.Cleanup(func() { plain.Close() })

	// A server that reads the request and hangs up without an answer.
	hangup := tlsServer(t, ca, func(c *tls.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		c.Close()
	})

	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string // said on stderr
	}{
		{"done", nil, []string{"get", "--ca", ca, "-o", out("ok.bin"), "--sha256", sum, base + "/fw.bin"}, exitOK, ""},
		{"usage", nil, []string{"get", "--nonsense", base + "/fw.bin"}, exitUsage, "unknown flag --nonsense"},
		{"malformed URL", nil, []string{"get", "http://127.0.0.1/fw.bin"}, exitURL, "https://HOST"},
		// Go's resolver answers "no such host" for a name that is not a
		// domain name without asking DNS: no packet leaves the machine.
		{"host not found", []string{"GODEBUG=netdns=go"}, []string{"get", "--retry", "0", "-o", out("x"), "https://no..such.host/fw.bin"}, exitResolve, "no such host"},
		{"refused port", nil, []string{"get", "--retry", "0", "--ca", ca, "-o", out("x"), "https://" + freePort(t) + "/fw.bin"}, exitConnect, "connection refused"},
		{"handshake timeout", nil, []string{"get", "--retry", "0", "--connect-timeout", "0.3", "--ca", ca, "-o", out("x"), "https://" + silentServer(t) + "/fw.bin"}, exitTimeout, ""},
		{"TLS 1.2 against a TLS 1.3 server", nil, []string{"get", "--retry", "0", "--tls", "1.2", "--ca", ca, "-o", out("x"), "https://" + only13.Addr().String() + "/fw.bin"}, exitTLS, "protocol_version"},
		{"plain HTTP", nil, []string{"get", "--retry", "0", "--ca", ca, "-o", out("x"), "https://" + plain.Addr().String() + "/fw.bin"}, exitTLS, ""},
		{"unknown authority", nil, []string{"get", "--retry", "0", "-o", out("x"), base + "/fw.bin"}, exitCertificate, "certificate"},
		{"wrong name", nil, []string{"get", "--retry", "0", "--ca", wrongNameCA, "-o", out("x"), "https://" + wrongName.Addr().String() + "/fw.bin"}, exitCertificate, "127.0.0.1"},
		{"404 with --fail", nil, []string{"get", "--fail", "--ca", notFoundCA, "-o", out("x"), notFound + "/fw.bin"}, exitHTTP, "404 Not Found"},
		{"404 with -fsS", nil, []string{"get", "-fsS", "--ca", notFoundCA, "-o", out("x"), notFound + "/fw.bin"}, exitHTTP, "404 Not Found"},
		{"hang-up before the answer", nil, []string{"get", "--retry", "0", "--ca", ca, "-o", out("x"), hangup + "/fw.bin"}, exitRecv, ""},
		{"client certificate missing", nil, []string{"get", "--cert", out("none.pem"), "--key", out("none.key"), "--ca", ca, base + "/fw.bin"}, exitClientCert, "none.pem"},
		{"CA file missing", nil, []string{"get", "--cacert", out("none-ca.pem"), base + "/fw.bin"}, exitCAFile, "none-ca.pem"},
		{"device limit broken", nil, []string{"get", "--device-limit", "2048", "--ca", ca, "-o", out("x"), base + "/fw.bin"}, exitRecordLimit, "EMSGSIZE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWith(t, tc.env, nil, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("status %d, stderr %q; want %d and %q", r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

func mustThrowaway(t *testing.T) *throwaway {
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return ta
}

// tlsServer serves handle over crypto/tls with a certificate of a new CA,
// which it adds to the CA file ca, and returns its base URL.
func tlsServer(t *testing.T, ca string, handle func(*tls.Conn)) string {
	ta := mustThrowaway(t)
	old, _ := os.ReadFile(ca)
	os.WriteFile(ca, append(old, pemCert(ta.CA)...), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, 30*time.Second, func(raw net.Conn) {
		handle(tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{ta.Server}}))
	})
	return "https://" + ln.Addr().String()
}

// TestExitPartial: a transfer cut inside the body, without retries, exits
// with curl's "partial file" and keeps the part; the same cut with
// retries finishes.
func TestExitPartial(t *testing.T) {
	body, sum := randomBody(512 << 10)
	im := &image{}
	im.set(body, `"fw-1"`)
	base, ca := httpsServer(t, im)
	cut := testnet.NewCutter(t, strings.TrimPrefix(base, "https://"), []int64{200 << 10, 200 << 10}, []bool{false, true})
	out := filepath.Join(t.TempDir(), "fw.bin")
	r := runBin(t, "get", "--retry", "0", "--ca", ca, "-o", out, "--sha256", sum, "https://"+cut.Addr+"/fw.bin")
	st, err := os.Stat(out + ".part")
	if r.code != exitPartial || err != nil || st.Size() == 0 {
		t.Fatalf("cut without retries: status %d, part %v; want %d and a part", r.code, err, exitPartial)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("kept %s of 512.0 KiB in %s.part", byteSize(st.Size()), out)) ||
		!strings.Contains(r.stderr, "--resume (or -C -) to continue from byte "+strconv.FormatInt(st.Size(), 10)) {
		t.Errorf("stderr does not say what was kept and how to continue: %q", r.stderr)
	}
	// The second connection is reset inside the body: a partial file
	// again. --resume continues from the first run's part.
	r = runBin(t, "get", "--retries", "0", "-C", "-", "--ca", ca, "-o", out, "--sha256", sum, "https://"+cut.Addr+"/fw.bin")
	if r.code != exitPartial {
		t.Fatalf("reset without retries: status %d, want %d", r.code, exitPartial)
	}
	if r = runBin(t, "get", "-C", "-", "--ca", ca, "-o", out, "--sha256", sum, "https://"+cut.Addr+"/fw.bin"); r.code != 0 || fileSHA(t, out) != sum {
		t.Fatalf("resumed: status %d", r.code)
	}
}

// TestExitTimeouts: --max-time stops a slow download with status 28,
// keeps the part and says so; a server that stops sending ends an attempt
// after --idle-timeout, also 28.
func TestExitTimeouts(t *testing.T) {
	body, _ := randomBody(4 << 20)
	im := &image{delay: 20 * time.Millisecond}
	im.set(body, `"fw-1"`)
	base, ca := httpsServer(t, im)
	out := filepath.Join(t.TempDir(), "fw.bin")
	start := time.Now()
	r := runBin(t, "get", "-m", "0.5", "--ca", ca, "-o", out, base+"/fw.bin")
	if r.code != exitTimeout || !strings.Contains(r.stderr, "stopped by --max-time 500ms") || !strings.Contains(r.stderr, "kept ") {
		t.Errorf("--max-time: status %d, stderr %q", r.code, r.stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("--max-time 0.5 ran %v", d)
	}
	stall := tlsServer(t, ca, func(c *tls.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
		c.Write(make([]byte, 1000))
		time.Sleep(5 * time.Second)
	})
	r = runBin(t, "get", "--retry", "0", "--idle-timeout", "300ms", "--ca", ca, "-o", filepath.Join(t.TempDir(), "x"), stall+"/fw.bin")
	if r.code != exitTimeout {
		t.Errorf("--idle-timeout: status %d, want %d", r.code, exitTimeout)
	}
}

// TestExitWriteErrors: output that cannot be written exits with curl's
// write error, 23: stdout open read-only, stdout on a full device
// (/dev/full), a directory that is not writable (not as root: root writes
// anyway), and -o on a full file system, which says how much space is
// missing.
func TestExitWriteErrors(t *testing.T) {
	body, _ := randomBody(300 << 10)
	im := &image{}
	im.set(body, `"fw-1"`)
	base, ca := httpsServer(t, im)

	ro, err := os.Open(filepath.Join(t.TempDir(), "..")) // a descriptor open for reading only
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r := runWith(t, nil, ro, "get", "--ca", ca, base+"/fw.bin"); r.code != exitWrite {
		t.Errorf("stdout read-only: status %d, want %d", r.code, exitWrite)
	}

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("/dev/full: %v", err)
	}
	defer full.Close()
	r := runWith(t, nil, full, "get", "--ca", ca, base+"/fw.bin")
	if r.code != exitWrite || !strings.Contains(r.stderr, "stdout is full") || !strings.Contains(r.stderr, "300.0 KiB more") {
		t.Errorf("stdout on /dev/full: status %d, stderr %q", r.code, r.stderr)
	}

	if os.Geteuid() != 0 {
		dir := t.TempDir()
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o755)
		if r := runBin(t, "get", "--ca", ca, "-o", filepath.Join(dir, "fw.bin"), base+"/fw.bin"); r.code != exitWrite {
			t.Errorf("-o in a read-only directory: status %d, want %d", r.code, exitWrite)
		}
	}

	// A 128 KiB tmpfs in a mount namespace of its own: the download of
	// 300 KiB fills it.
	dir := t.TempDir()
	script := fmt.Sprintf(`mount -t tmpfs -o size=128k tlsapp-test %[1]s || exit 99
%[2]s get --ca %[3]s -o %[1]s/fw.bin %[4]s/fw.bin
rc=$?
echo "part $(stat -c %%s %[1]s/fw.bin.part)" >&2
exit $rc`, dir, binPath, ca, base)
	cmd := exec.Command("unshare", "-m", "sh", "-c", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 99 || err != nil && !errors.As(err, &ee) {
		t.Skipf("no tmpfs in a mount namespace of its own (unshare -m needs root): %v\n%s", err, stderr.String())
	}
	t.Logf("on a full tmpfs:\n%s", stderr.String())
	if !errors.As(err, &ee) || ee.ExitCode() != exitWrite {
		t.Fatalf("on a full file system: %v, want status %d", err, exitWrite)
	}
	var part int64
	for _, l := range strings.Split(stderr.String(), "\n") {
		if s, ok := strings.CutPrefix(l, "part "); ok {
			part, _ = strconv.ParseInt(s, 10, 64)
		}
	}
	want := fmt.Sprintf("the disk holding %s is full: %s more are needed", dir, byteSize(300<<10-part))
	if part == 0 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), fmt.Sprintf("continue from byte %d", part)) {
		t.Errorf("stderr does not say %q and where to continue (part %d B)", want, part)
	}
}

// TestExitProbe: probe exits 111 when the device will not work (verdict
// "fails"), 112 when the records fitted by luck, 0 when it works, and
// curl's status when it could not connect.
func TestExitProbe(t *testing.T) {
	big, _ := randomBody(300 << 10)
	im := &image{}
	im.set(big, `"big"`)
	base, ca := httpsServer(t, im) // 16 KiB records
	small := &image{}
	small.set([]byte("ok"), `"small"`)
	smallBase, smallCA := httpsServer(t, small) // records small, but only because there is little to send
	dir := t.TempDir()
	firmware(t, dir, "fw.bin", 300<<10)
	capped, cappedCA := startServe(t, dir, "--max-record", "2048")
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"fails", []string{"probe", "--ca", ca, base + "/fw.bin"}, exitProbeFails},
		{"luck", []string{"probe", "--ca", smallCA, smallBase + "/fw.bin"}, exitProbeLuck},
		{"works", []string{"probe", "--ca", cappedCA, capped + "/fw.bin"}, exitOK},
		{"refused", []string{"probe", "--ca", ca, freePort(t)}, exitConnect},
		{"unknown authority", []string{"probe", base + "/fw.bin"}, exitCertificate},
		{"malformed target", []string{"probe", "ftp://127.0.0.1/"}, exitURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := runBin(t, tc.args...); r.code != tc.code {
				t.Errorf("status %d, want %d", r.code, tc.code)
			}
		})
	}
}
