package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkHandshakeBytes reports the bytes on the wire, record headers
// included, from the client (c2s-B) and from the server (s2c-B) up to the
// end of the client's handshake: tlsapp's RecordState, a counting net.Conn
// for the baselines. Each op is one handshake on a new connection to the
// in-process server (a crypto/tls server behind tlsapp.NewListener, chain of
// leaf and CA, ECDSA P-256).
//   - full: no session cache;
//   - resumed: a session cache primed by one earlier connection
//     (tlsapp.NewLRUClientSessionCache(0) for tlsapp);
//   - certcomp: TLS 1.3 against gnutls-serv --compress-cert=zstd, since Go's
//     server never compresses certificates; tlsapp offers compression by
//     default, tlsapp-nocomp sets DisableCertCompression.
//
// tlsapp offers record_size_limit 2048; utls is the plain X25519 hello;
// utls-golang is utls's HelloGolang, whose X25519MLKEM768 key share adds
// about 1.2 KB to the ClientHello and to the server's answer.
func BenchmarkHandshakeBytes(b *testing.B) {
	cls := append(clients[:len(clients):len(clients)], utlsGolangClient)
	for _, v := range versions {
		for _, mode := range []string{"full", "resumed"} {
			for _, cl := range cls {
				b.Run(fmt.Sprintf("%s/%s/%s", v.name, mode, cl.name), func(b *testing.B) {
					o := opts{version: v.v, limit: 2048, pool: testPKI(b).Pool}
					addr := inprocServer(b, 0)
					if mode == "resumed" {
						o.cache = cl.newCache()
						handshakeOnce(b, cl, addr, o) // primes the cache
					}
					var hs hsBytes
					for b.Loop() {
						hs = handshakeOnce(b, cl, addr, o)
					}
					if hs.resumed != (mode == "resumed") {
						b.Fatalf("resumed = %v", hs.resumed)
					}
					reportHandshake(b, hs)
				})
			}
		}
	}
	for _, cl := range append(cls, client{name: "tlsapp-nocomp", handshake: tlsappClient.handshake}) {
		b.Run("tls13/certcomp/"+cl.name, func(b *testing.B) {
			addr := gnutlsServer(b)
			o := opts{version: versions[1].v, limit: 2048, pool: testPKI(b).Pool, noCertCompression: cl.name == "tlsapp-nocomp"}
			var hs hsBytes
			for b.Loop() {
				hs = handshakeOnce(b, cl, addr, o)
			}
			reportHandshake(b, hs)
			certCompBytes[cl.name] = hs.received
			if comp, ok := certCompBytes["tlsapp"]; ok && cl.name == "tlsapp-nocomp" && hs.received-comp < 16 {
				b.Logf("offering compression saved %d bytes: this gnutls-serv does not compress (libgnutls built without zstd/brotli?)", hs.received-comp)
			}
		})
	}
}

var certCompBytes = map[string]int64{}

func reportHandshake(b *testing.B, hs hsBytes) {
	b.ReportMetric(float64(hs.sent), "c2s-B")
	b.ReportMetric(float64(hs.received), "s2c-B")
	b.ReportMetric(float64(hs.wireSent), "wire-c2s-B")
	b.ReportMetric(float64(hs.wireReceived), "wire-s2c-B")
}

// handshakeOnce connects, and, when there is a session cache, reads one
// byte so that a TLS 1.3 ticket reaches the cache.
func handshakeOnce(b *testing.B, cl client, addr string, o opts) hsBytes {
	c, hs := connect(b, cl, addr, o)
	defer c.Close()
	if o.cache != nil {
		if err := request(c, opDownload, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
	}
	return hs
}

var gnutlsAddr string

// gnutlsServer starts gnutls-serv, TLS 1.3 only, with zstd certificate
// compression, once per process; it skips b when gnutls-serv is missing.
func gnutlsServer(b *testing.B) string {
	bin, err := exec.LookPath("gnutls-serv")
	if err != nil {
		b.Skip("gnutls-serv not found (apt-get install -y gnutls-bin); no certificate compression figures")
	}
	if gnutlsAddr != "" {
		return gnutlsAddr
	}
	p := testPKI(b)
	dir, err := os.MkdirTemp("", "tlsapp-bench-gnutls")
	if err != nil {
		b.Fatal(err)
	}
	cert, key := filepath.Join(dir, "chain.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, p.ChainPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(key, p.KeyPEM, 0o600); err != nil {
		b.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		cmd := exec.Command(bin, "--echo", "-p", port, "--x509certfile", cert, "--x509keyfile", key,
			"--priority", "NORMAL:-VERS-ALL:+VERS-TLS1.3", "--compress-cert=zstd")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := "127.0.0.1:" + port
		for i := 0; i < 100; i++ {
			select {
			case <-exited:
				i = 100
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				// The server lives as long as the test binary; the
				// directory is removed when it exits.
				go func() { <-exited; os.RemoveAll(dir) }()
				gnutlsProc = cmd
				gnutlsAddr = addr
				return addr
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
		b.Logf("gnutls-serv on %s: %s", addr, out.String())
	}
	b.Fatal("gnutls-serv did not start")
	return ""
}

var gnutlsProc *exec.Cmd
