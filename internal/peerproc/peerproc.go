// Package peerproc starts the independent TLS implementations the tests
// talk to (openssl s_server, gnutls-serv) as processes on 127.0.0.1.
package peerproc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require returns the path of an external TLS implementation. Outside CI
// a missing one skips the test with what to install; in CI it fails.
func Require(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (apt-get install -y %s); CI must install it", name, pkg)
	}
	t.Skipf("%s is not installed: apt-get install -y %s", name, pkg)
	return ""
}

// Start starts a server process listening on a free 127.0.0.1 port
// (args may use %PORT%) and waits until it accepts connections.
func Start(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	addr, _ := StartOutput(t, dir, name, args...)
	return addr
}

// StartOutput is Start that also returns what the process has printed so
// far (standard output and error together), for tests that check what the
// peer saw: an alert it received, say.
func StartOutput(t testing.TB, dir string, name string, args ...string) (addr string, output func() string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		var a []string
		for _, s := range args {
			a = append(a, strings.ReplaceAll(s, "%PORT%", port))
		}
		cmd := exec.Command(name, a...)
		cmd.Dir = dir
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr = "127.0.0.1:" + port
		for i := 0; i < 100; i++ {
			select {
			case <-exited:
				i = 100
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Cleanup(func() {
					cmd.Process.Kill()
					<-exited
					if t.Failed() {
						t.Logf("%s output:\n%s", name, out.String())
					}
				})
				return addr, out.String
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
		t.Logf("%s did not start (attempt %d):\n%s", name, attempt+1, out.String())
	}
	t.Fatalf("could not start %s", name)
	return "", nil
}

// syncBuffer is a bytes.Buffer that the process's output copiers write and
// a test reads at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
