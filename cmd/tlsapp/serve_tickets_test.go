package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/tlsapp"
	"github.com/tlsapp/tlsapp/trust"
)

// ticketServe is a running "tlsapp serve --ticket-keys", whose stdout
// report and stderr log the test reads.
type ticketServe struct {
	addr string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // the report, then the log
}

// fleetFiles is what the servers of a fleet share: a certificate and key,
// the CA that issued them, and the ticket key file.
type fleetFiles struct {
	dir, cert, key, ca, keys string
}

func newFleetFiles(t *testing.T) fleetFiles {
	t.Helper()
	top := t.TempDir()
	f := fleetFiles{dir: filepath.Join(top, "www"), cert: filepath.Join(top, "cert.pem"), key: filepath.Join(top, "key.pem"),
		ca: filepath.Join(top, "ca.pem"), keys: filepath.Join(top, "ticket.keys")}
	if err := os.Mkdir(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, "f.txt"), []byte("firmware\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ta, err := newThrowaway("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ta.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, der := range ta.Server.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	for p, b := range map[string][]byte{f.cert: chain, f.ca: pemCert(ta.CA),
		f.key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// newKeyLine returns one key line, as `openssl rand -base64 48` prints it.
func newKeyLine() string {
	var b [48]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// writeKeys replaces the key file by a rename, as the README's rotation
// does.
func (f fleetFiles) writeKeys(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(f.keys+".new", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.keys+".new", f.keys); err != nil {
		t.Fatal(err)
	}
}

func startTicketServe(t *testing.T, f fleetFiles, args ...string) *ticketServe {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--dir", f.dir, "--addr", "127.0.0.1:0", "--cert", f.cert, "--key", f.key,
		"--ticket-keys", f.keys, "--max-record", "512"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &ticketServe{cmd: cmd}
	var wg sync.WaitGroup
	first := make(chan string, 1)
	for i, r := range []io.Reader{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			for n := 0; sc.Scan(); n++ {
				if i == 0 && n == 0 {
					first <- sc.Text()
				}
				s.mu.Lock()
				s.out.WriteString(sc.Text() + "\n")
				s.mu.Unlock()
			}
			if i == 0 {
				close(first)
			}
		}()
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { wg.Wait(); cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("serve's output:\n%s", s.text())
		}
	})
	var line string
	select {
	case line = <-first:
	case <-time.After(20 * time.Second):
	}
	_, url, ok := strings.Cut(line, " on https://")
	if !ok {
		t.Fatalf("serve's first line is %q", line)
	}
	s.addr = strings.TrimSuffix(url, "/")
	return s
}

func (s *ticketServe) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// waitFor waits until serve's output holds n lines containing sub.
func (s *ticketServe) waitFor(t *testing.T, sub string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.text(), sub) < n {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log %q %d times:\n%s", sub, n, s.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sslClient runs openssl s_client against addr in version v ("1.2" or
// "1.3") with max_fragment_length 512, fetching /f.txt, with the session
// arguments given (-sess_in FILE, -sess_out FILE), and returns its output.
func sslClient(t *testing.T, bin, addr, ca, v string, sess ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"s_client", "-connect", addr, "-tls" + strings.ReplaceAll(v, ".", "_"), "-maxfraglen", "512",
		"-CAfile", ca, "-verify_return_error", "-servername", "localhost", "-ign_eof"}, sess...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader("GET /f.txt HTTP/1.0\r\n\r\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "firmware") {
		t.Fatalf("openssl s_client %v: %v\n%s", sess, err, out)
	}
	return string(out)
}

// session says how openssl's connection went: "Reused" or "New".
func session(out string) string {
	for _, w := range []string{"Reused, TLSv1.", "New, TLSv1."} {
		if strings.Contains(out, w) {
			return strings.SplitN(w, ",", 2)[0]
		}
	}
	return "neither New nor Reused"
}

// libGet fetches /f.txt through the library client with its session cache
// and says whether the connection resumed.
func libGet(t *testing.T, addr, ca string, v uint16, cache trust.SessionCache) bool {
	t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{ServerName: "localhost", RootCAs: pool, MinVersion: v, MaxVersion: v,
		MaxFragmentLength: 512, ClientSessionCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /f.txt HTTP/1.0\r\n\r\n")
	body, err := io.ReadAll(c)
	if !bytes.Contains(body, []byte("firmware")) {
		t.Fatalf("library client: %v\n%s", err, body)
	}
	return c.RecordState().Resumed
}

// TestServeTicketKeysFleet is issue 16's proof for item 5 against the
// binary: two "tlsapp serve --ticket-keys" processes sharing a key file
// resume each other's sessions, TLS 1.2 and 1.3, with openssl s_client
// (-sess_out on one, -sess_in on the other: "Reused") and the library
// client (RecordState.Resumed); both notice a rotation of the file on their
// own and keep resuming sessions sealed under a key the file keeps; a
// session sealed under a key dropped from the file makes a new session
// without an error. Each server is behind its own record relay per version,
// which sees no record above --max-record 512, tickets included.
func TestServeTicketKeysFleet(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	f := newFleetFiles(t)
	k1, k2, k3 := newKeyLine(), newKeyLine(), newKeyLine()
	f.writeKeys(t, "# the fleet's ticket keys, newest first\n"+k1+"\n")
	servers := []*ticketServe{startTicketServe(t, f, "--ticket-keys-poll", "100ms"), startTicketServe(t, f, "--ticket-keys-poll", "100ms")}
	for _, s := range servers {
		s.waitFor(t, "  tickets    1 key from "+f.keys+", sealing with key ", 1)
	}
	type version struct {
		name     string
		v        uint16
		overhead int
	}
	versions := []version{{"1.2", tls.VersionTLS12, 24}, {"1.3", tls.VersionTLS13, 17}}
	relays := map[string][]*relay{}
	caches := map[string]trust.SessionCache{}
	sessDir := t.TempDir()
	sess := func(v, name string) string { return filepath.Join(sessDir, v+"-"+name+".pem") }
	for _, v := range versions {
		relays[v.name] = []*relay{startRelay(t, servers[0].addr), startRelay(t, servers[1].addr)}
		a, b := relays[v.name][0].addr(), relays[v.name][1].addr()
		if got := session(sslClient(t, bin, a, f.ca, v.name, "-sess_out", sess(v.name, "k1"))); got != "New" {
			t.Fatalf("TLS %s: first openssl connection: %s", v.name, got)
		}
		if got := session(sslClient(t, bin, b, f.ca, v.name, "-sess_in", sess(v.name, "k1"))); got != "Reused" {
			t.Errorf("TLS %s: openssl's session from server 1 on server 2: %s", v.name, got)
		}
		caches[v.name] = tlsapp.NewSessionCache(1)
		if libGet(t, a, f.ca, v.v, caches[v.name]) || !libGet(t, b, f.ca, v.v, caches[v.name]) {
			t.Errorf("TLS %s: the library client's session from server 1 did not resume on server 2", v.name)
		}
	}

	f.writeKeys(t, k2+"\n"+k1+"\n")
	for _, s := range servers {
		s.waitFor(t, "ticket keys reloaded (file changed): 2 keys", 1)
	}
	for _, v := range versions {
		a, b := relays[v.name][0].addr(), relays[v.name][1].addr()
		if got := session(sslClient(t, bin, b, f.ca, v.name, "-sess_in", sess(v.name, "k1"))); got != "Reused" {
			t.Errorf("TLS %s: after a rotation keeping the key, openssl: %s", v.name, got)
		}
		// A session sealed under the new key. (openssl does not save the
		// ticket a TLS 1.2 server sends on resumption: a new session.)
		if got := session(sslClient(t, bin, a, f.ca, v.name, "-sess_out", sess(v.name, "k2"))); got != "New" {
			t.Errorf("TLS %s: openssl without a session: %s", v.name, got)
		}
		if !libGet(t, a, f.ca, v.v, caches[v.name]) {
			t.Errorf("TLS %s: after a rotation keeping the key, the library client did not resume", v.name)
		}
	}

	f.writeKeys(t, k3+"\n"+k2+"\n")
	for _, s := range servers {
		s.waitFor(t, "ticket keys reloaded (file changed): 2 keys", 2)
	}
	for _, v := range versions {
		a, b := relays[v.name][0].addr(), relays[v.name][1].addr()
		if got := session(sslClient(t, bin, a, f.ca, v.name, "-sess_in", sess(v.name, "k1"))); got != "New" {
			t.Errorf("TLS %s: a session under the dropped key: %s, want a new one", v.name, got)
		}
		if got := session(sslClient(t, bin, a, f.ca, v.name, "-sess_in", sess(v.name, "k2"))); got != "Reused" {
			t.Errorf("TLS %s: a session under the kept key: %s", v.name, got)
		}
		if !libGet(t, b, f.ca, v.v, caches[v.name]) {
			t.Errorf("TLS %s: after the second rotation, the library client did not resume", v.name)
		}
		for i, r := range relays[v.name] {
			conns, largest, records, _ := r.stats()
			if largest > 512+v.overhead || conns == 0 {
				t.Errorf("TLS %s, server %d: largest record %d bytes over %d records, bound %d", v.name, i+1, largest, records, 512+v.overhead)
			}
		}
	}
}

// TestServeTicketKeysSIGHUP: with polling off, a changed key file is not
// read until SIGHUP; SIGHUP reloads it (a session under the dropped key is
// then a new one) without ending the process; a bad file on SIGHUP is
// logged and the keys loaded before keep sealing and opening tickets.
func TestServeTicketKeysSIGHUP(t *testing.T) {
	bin := peerproc.Require(t, "openssl", "openssl")
	f := newFleetFiles(t)
	f.writeKeys(t, newKeyLine()+"\n")
	s := startTicketServe(t, f, "--ticket-keys-poll", "0")
	s.waitFor(t, "; reread on SIGHUP\n", 1)
	sess := filepath.Join(t.TempDir(), "sess.pem")
	sslClient(t, bin, s.addr, f.ca, "1.2", "-sess_out", sess)

	f.writeKeys(t, newKeyLine()+"\n") // the old key dropped
	time.Sleep(300 * time.Millisecond)
	if got := session(sslClient(t, bin, s.addr, f.ca, "1.2", "-sess_in", sess)); got != "Reused" {
		t.Fatalf("the file was read without SIGHUP (poll 0): %s", got)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor(t, "ticket keys reloaded (SIGHUP): 1 key from", 1)
	if got := session(sslClient(t, bin, s.addr, f.ca, "1.2", "-sess_in", sess, "-sess_out", sess)); got != "New" {
		t.Fatalf("after SIGHUP, a session under the dropped key: %s", got)
	}

	for i, bad := range []func(){
		func() { f.writeKeys(t, "not a key\n") },
		func() { os.Chmod(f.keys, 0o644) },
		func() { os.Remove(f.keys) },
	} {
		bad()
		s.cmd.Process.Signal(syscall.SIGHUP)
		s.waitFor(t, "ticket keys not reloaded (SIGHUP), keeping the 1 loaded before: ticketkey: "+f.keys, i+1)
		if got := session(sslClient(t, bin, s.addr, f.ca, "1.2", "-sess_in", sess, "-sess_out", sess)); got != "Reused" {
			t.Fatalf("after a bad file on SIGHUP (%d), the kept key's session: %s", i, got)
		}
	}
	log := s.text()
	for _, want := range []string{"line 1: a key is not base64", "run chmod 600", "no such file or directory"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}
}

// TestServeTicketKeysRefused: serve does not start on a bad key file, and
// says why; nothing of the file is printed.
func TestServeTicketKeysRefused(t *testing.T) {
	f := newFleetFiles(t)
	key := newKeyLine()
	tests := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"missing", "", 0, "no such file or directory"},
		{"empty", "\n", 0o600, "the file holds no key"},
		{"short key", key[:40] + "\n", 0o600, "line 1: a key is not 48 bytes: 30 bytes"},
		{"nginx binary key", string(bytes.Repeat([]byte{0xfe}, 80)), 0o600, "line 1: a key is not base64"},
		{"group-readable", key + "\n", 0o640, "run chmod 600 on it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(f.keys)
			if tc.mode != 0 {
				f.writeKeys(t, tc.content)
				os.Chmod(f.keys, tc.mode)
			}
			r := runBin(t, "serve", "--dir", f.dir, "--addr", "127.0.0.1:0", "--ticket-keys", f.keys)
			if r.code != 1 || !strings.Contains(r.stderr, "tlsapp serve: ticketkey: "+f.keys) || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("status %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stdout+r.stderr, key[:20]) || r.stdout != "" {
				t.Errorf("serve printed %q", r.stdout+r.stderr)
			}
		})
	}
	if r := runBin(t, "serve", "--ticket-keys-poll", "-1s"); r.code != 2 {
		t.Errorf("a negative poll: status %d", r.code)
	}
}
