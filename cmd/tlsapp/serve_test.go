package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// publicServe is a running "tlsapp serve" whose stderr (the request log)
// the test reads.
type publicServe struct {
	addr string
	tls  *tls.Config
	mu   sync.Mutex
	log  bytes.Buffer
}

// startPublicServe starts "tlsapp serve" on 127.0.0.1 over dir with args.
func startPublicServe(t *testing.T, dir string, args ...string) *publicServe {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	cmd := exec.Command(binPath, append([]string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--write-ca", ca}, args...)...)
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
	s := &publicServe{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
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
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading serve's first line: %v", err)
	}
	_, url, ok := strings.Cut(strings.TrimSpace(line), " on https://")
	if !ok {
		t.Fatalf("serve's first line is %q", line)
	}
	go io.Copy(io.Discard, stdout)
	s.addr = strings.TrimSuffix(url, "/")
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	s.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return s
}

func (s *publicServe) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// get fetches path with net/http over a fresh connection.
func (s *publicServe) get(t *testing.T, path string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: s.tls, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", "https://"+s.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// dialTLS opens a TLS connection to the server by hand.
func (s *publicServe) dialTLS(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.addr, s.tls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server ends c (EOF or reset on read)
// within d, and after how long.
func closedWithin(c net.Conn, d time.Duration) (bool, time.Duration) {
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		return false, time.Since(start)
	}
	return true, time.Since(start)
}

// servedTree makes a directory to serve and, beside it, a secret that must
// stay out of reach.
func servedTree(t *testing.T) (dir, secret string) {
	t.Helper()
	top := t.TempDir()
	dir = filepath.Join(top, "www")
	other := filepath.Join(top, "other")
	for _, d := range []string{dir, other, filepath.Join(dir, "sub"), filepath.Join(dir, ".git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret = "SECRET-OUTSIDE-THE-ROOT"
	files := map[string]string{
		filepath.Join(dir, "a.txt"):          "hello from a.txt\n",
		filepath.Join(dir, "sub", "b.txt"):   "hello from b.txt\n",
		filepath.Join(dir, ".env"):           "API_KEY=dotfile-secret\n",
		filepath.Join(dir, ".git", "config"): "[core]\n",
		filepath.Join(other, "secret.txt"):   secret,
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 640) // 10 KiB
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{
		"link.txt":   filepath.Join(other, "secret.txt"), // absolute, out of the root
		"rel.txt":    "../other/secret.txt",              // relative, out of the root
		"outdir":     other,                              // a directory out of the root
		"inside.txt": "a.txt",                            // within the root: fine
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret
}

// TestServeStaysInDir checks that no symbolic link leads out of --dir: the
// links out answer 404 without the secret, a link within works.
func TestServeStaysInDir(t *testing.T) {
	dir, secret := servedTree(t)
	s := startPublicServe(t, dir)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/a.txt", 200}, {"/inside.txt", 200}, {"/sub/b.txt", 200},
		{"/link.txt", 404}, {"/rel.txt", 404}, {"/outdir/secret.txt", 404}, {"/outdir/", 404},
		{"/../other/secret.txt", 404}, {"/sub/../../other/secret.txt", 404},
	} {
		code, _, body := s.get(t, tc.path)
		if code != tc.code || bytes.Contains(body, []byte(secret)) {
			t.Errorf("GET %s: status %d (want %d), body %q", tc.path, code, tc.code, body[:min(len(body), 60)])
		}
	}
}

// TestServeDotfiles checks that names starting with a dot are neither
// served nor listed by default, and are with --dotfiles.
func TestServeDotfiles(t *testing.T) {
	dir, _ := servedTree(t)
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("dotfiles=%v", allow), func(t *testing.T) {
			var args []string
			want := 404
			if allow {
				args, want = []string{"--dotfiles"}, 200
			}
			s := startPublicServe(t, dir, args...)
			for _, p := range []string{"/.env", "/.git/config", "/sub/../.env", "/%2eenv"} {
				if code, _, body := s.get(t, p); code != want || (!allow && bytes.Contains(body, []byte("dotfile-secret"))) {
					t.Errorf("GET %s: status %d, want %d", p, code, want)
				}
			}
			_, _, listing := s.get(t, "/")
			if listed := bytes.Contains(listing, []byte(".env")) || bytes.Contains(listing, []byte(".git")); listed != allow {
				t.Errorf("the listing of / shows dot entries: %v, want %v:\n%s", listed, allow, listing)
			}
			if !bytes.Contains(listing, []byte("a.txt")) {
				t.Errorf("the listing of / lacks a.txt:\n%s", listing)
			}
		})
	}
}

// TestServeRangeCap checks that a Range header of more than --max-ranges
// ranges gets the whole file once (200), not a multipart answer larger than
// the file, while a few ranges still get 206.
func TestServeRangeCap(t *testing.T) {
	dir, _ := servedTree(t)
	s := startPublicServe(t, dir, "--max-ranges", "4")
	many := make([]string, 2000)
	for i := range many {
		many[i] = fmt.Sprintf("%d-%d", i%100, i%100+5000)
	}
	for _, tc := range []struct {
		name, rng string
		code      int
	}{
		{"one range", "bytes=0-99", 206},
		{"four ranges", "bytes=0-9,100-109,200-209,300-309", 206},
		{"five ranges", "bytes=0-9,100-109,200-209,300-309,400-409", 200},
		{"2000 overlapping ranges", "bytes=" + strings.Join(many, ","), 200},
	} {
		code, _, body := s.get(t, "/big.bin", "Range", tc.rng)
		if code != tc.code || (code == 200 && len(body) != 10240) || len(body) > 10240 {
			t.Errorf("%s: status %d (want %d), %d bytes", tc.name, code, tc.code, len(body))
		}
	}
}

// TestServeTimeouts checks each timeout on a real connection: an idle
// keep-alive connection, a slow request header, a request trickled in byte
// by byte, and a response the client does not read, all end in time; and a
// client that keeps its connection busy is not cut off early.
func TestServeTimeouts(t *testing.T) {
	dir, _ := servedTree(t)
	bigFile := bytes.Repeat([]byte{'x'}, 32<<20)
	if err := os.WriteFile(filepath.Join(dir, "huge.bin"), bigFile, 0o644); err != nil {
		t.Fatal(err)
	}
	s := startPublicServe(t, dir, "--idle-timeout", "1s", "--read-header-timeout", "1s", "--read-timeout", "3s", "--write-timeout", "2s")
	request := "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"

	t.Run("idle", func(t *testing.T) {
		c := s.dialTLS(t)
		io.WriteString(c, request)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		if closed, after := closedWithin(c, 5*time.Second); !closed {
			t.Errorf("an idle keep-alive connection was still open after %v", after)
		}
	})
	t.Run("slow header", func(t *testing.T) {
		c := s.dialTLS(t)
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\n")
		if closed, after := closedWithin(c, 5*time.Second); !closed {
			t.Errorf("a connection with half a request header was still open after %v", after)
		}
	})
	t.Run("slow handshake", func(t *testing.T) {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{22, 3, 1}) // the start of a record, then nothing
		if closed, after := closedWithin(c, 5*time.Second); !closed {
			t.Errorf("a connection stuck in the handshake was still open after %v", after)
		}
	})
	t.Run("trickled body", func(t *testing.T) {
		// A complete header, then a body one byte every 100 ms: the
		// server answers, and must stop waiting for the rest of the
		// request at --read-timeout.
		c := s.dialTLS(t)
		io.WriteString(c, "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					if _, err := io.WriteString(c, "X"); err != nil {
						return
					}
				}
			}
		}()
		if closed, after := closedWithin(c, 8*time.Second); !closed {
			t.Errorf("a request body trickled for %v was still being read", after)
		}
	})
	t.Run("unread response", func(t *testing.T) {
		c := s.dialTLS(t)
		io.WriteString(c, "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(4 * time.Second) // past --write-timeout, without reading
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err == nil && n > int64(len(bigFile)) {
			t.Errorf("a response the client did not read for 4 s was sent whole (%d bytes)", n)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the server neither finished nor ended the connection: %d bytes, then nothing", n)
		}
	})
	t.Run("busy client", func(t *testing.T) {
		c := s.dialTLS(t)
		br := bufio.NewReader(c)
		for i := 0; i < 6; i++ { // 6 requests 400 ms apart: 2.4 s on one connection, each gap within --idle-timeout
			io.WriteString(c, request)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on a busy connection: %v", i, err)
			}
			io.Copy(io.Discard, resp.Body)
			time.Sleep(400 * time.Millisecond)
		}
	})
}

// TestServeConnectionCap checks --max-conns on real sockets: with two
// connections held open, a third waits without a handshake, and gets one
// as soon as one of the two closes.
func TestServeConnectionCap(t *testing.T) {
	dir, _ := servedTree(t)
	s := startPublicServe(t, dir, "--max-conns", "2", "--read-header-timeout", "30s", "--idle-timeout", "30s")
	held := []*tls.Conn{s.dialTLS(t), s.dialTLS(t)}
	third, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	tc := tls.Client(third, s.tls)
	done := make(chan error, 1)
	go func() { done <- tc.Handshake() }()
	select {
	case err := <-done:
		t.Fatalf("a third connection got its handshake done (%v) while two were held, with --max-conns 2", err)
	case <-time.After(1500 * time.Millisecond):
	}
	held[0].Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the third connection's handshake after a slot freed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the third connection still waits after one of the two closed")
	}
}

// TestServeLogsRequests checks one log line per request, with the client,
// method, quoted target, status and body bytes; a target with a newline
// cannot forge a second line.
func TestServeLogsRequests(t *testing.T) {
	dir, _ := servedTree(t)
	s := startPublicServe(t, dir)
	s.get(t, "/a.txt")
	s.get(t, "/missing")
	s.get(t, "/big.bin", "Range", "bytes=0-99")
	s.get(t, "/a.txt%0aforged")
	var lines []string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		lines = strings.Split(strings.TrimSpace(s.logText()), "\n")
		if len(lines) >= 4 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(lines) != 4 {
		t.Fatalf("%d log lines for 4 requests:\n%s", len(lines), s.logText())
	}
	for i, want := range []string{`GET "/a.txt" HTTP/1.1 200 17 `, `GET "/missing" HTTP/1.1 404 `, `GET "/big.bin" HTTP/1.1 206 100 `, `get "/a.txt%0aforged" http/1.1 404 `} {
		if !strings.Contains(lines[i], want) && !strings.Contains(strings.ToLower(lines[i]), want) || !strings.Contains(lines[i], " 127.0.0.1:") {
			t.Errorf("log line %d is %q, want it to contain %q and the client address", i, lines[i], want)
		}
	}
}
