package credstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/testnet"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// TestSessionAcrossProcesses saves a session through a directory store in
// one process and resumes it in another, in TLS 1.2 and 1.3: the second
// handshake resumes and moves fewer bytes.
func TestSessionAcrossProcesses(t *testing.T) {
	if os.Getenv("CREDSTORE_SESSION_CHILD") != "" {
		t.Skip("run by the parent only")
	}
	root := newCA(t, "Session Test Root", nil)
	leaf := newLeaf(t, root, time.Now().Add(time.Hour))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	testnet.Serve(t, ln, time.Minute, func(c net.Conn) {
		c.Write([]byte("x")) // lets the TLS 1.3 ticket arrive
		io.Copy(io.Discard, c)
	})
	for _, v := range []string{"1.2", "1.3"} {
		t.Run(v, func(t *testing.T) {
			dir := t.TempDir()
			caFile := filepath.Join(dir, "ca.pem")
			os.WriteFile(caFile, root.pem, 0o644)
			var bytes []int64
			for i := 0; i < 2; i++ {
				cmd := exec.Command(os.Args[0], "-test.run=^TestSessionChild$", "-test.v")
				cmd.Env = append(os.Environ(), "CREDSTORE_SESSION_CHILD=1", "CHILD_ADDR="+ln.Addr().String(),
					"CHILD_CA="+caFile, "CHILD_STORE="+filepath.Join(dir, "store"), "CHILD_TLS="+v)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("child %d: %v\n%s", i, err, out)
				}
				var resumed bool
				var n int64
				if _, err := fmt.Sscanf(string(out[strings.Index(string(out), "RESULT"):]), "RESULT resumed=%t bytes=%d", &resumed, &n); err != nil {
					t.Fatalf("child output: %s", out)
				}
				if resumed != (i == 1) {
					t.Fatalf("process %d: resumed = %v", i+1, resumed)
				}
				bytes = append(bytes, n)
			}
			if bytes[1] >= bytes[0] {
				t.Errorf("resumed handshake %d bytes, full %d", bytes[1], bytes[0])
			}
			t.Logf("TLS %s handshake bytes: first process %d, second (resumed) %d", v, bytes[0], bytes[1])
		})
	}
}

// TestSessionChild is the child process of TestSessionAcrossProcesses.
func TestSessionChild(t *testing.T) {
	if os.Getenv("CREDSTORE_SESSION_CHILD") == "" {
		t.Skip("run as a child process only")
	}
	s, err := OpenDir(os.Getenv("CHILD_STORE"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(os.Getenv("CHILD_CA"))
	block, _ := pem.Decode(caPEM)
	ca, _ := x509.ParseCertificate(block.Bytes)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	max := uint16(tls.VersionTLS13)
	if os.Getenv("CHILD_TLS") == "1.2" {
		max = tls.VersionTLS12
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tlsapp.Dial(ctx, "tcp", os.Getenv("CHILD_ADDR"), &tlsapp.Config{ServerName: "localhost", RootCAs: pool,
		MaxVersion: max, ClientSessionCache: NewSessionCache(s, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	st := c.RecordState()
	fmt.Printf("RESULT resumed=%v bytes=%d\n", st.Resumed, st.HandshakeBytesSent+st.HandshakeBytesReceived)
}

var _ net.Conn = (*tlsapp.Conn)(nil)
