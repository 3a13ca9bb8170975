package tlsapp

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsapp/tlsapp/internal/peerproc"
	"github.com/tlsapp/tlsapp/internal/testnet"
)

// pemFiles writes the test PKI as PEM files for external servers: the CA,
// the server certificate and key, and returns their paths.
func pemFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	p := newTestPKI(t)
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(p.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return write("ca.pem", "CERTIFICATE", p.CA.Raw), write("cert.pem", "CERTIFICATE", p.Server.Certificate[0]),
		write("key.pem", "PRIVATE KEY", keyDER)
}

// bigClientChain returns a client certificate whose chain (leaf and three
// intermediates with long subjects) encodes to well over 4 KiB, signed by
// the test CA.
func bigClientChain(t *testing.T) tls.Certificate { return bigChain(t, x509.ExtKeyUsageClientAuth) }

// bigChain returns a certificate for usage (a server one names localhost and
// 127.0.0.1) whose chain encodes to well over 4 KiB, signed by the test CA.
func bigChain(t *testing.T, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	p := newTestPKI(t)
	parent, parentKey := p.CA, p.CAKey
	var chain [][]byte
	long := strings.Repeat("constrained-device-fleet-", 24)
	for i := 0; i < 4; i++ {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(100 + i)),
			Subject:      pkix.Name{CommonName: fmt.Sprintf("level %d", i), OrganizationalUnit: []string{long, long}},
			NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: i < 3, BasicConstraintsValid: true,
		}
		if i < 3 {
			tmpl.KeyUsage = x509.KeyUsageCertSign
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
			tmpl.KeyUsage = x509.KeyUsageDigitalSignature
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		chain = append([][]byte{der}, chain...)
		parent, _ = x509.ParseCertificate(der)
		parentKey = key
		if i == 3 {
			size := 0
			for _, c := range chain {
				size += len(c)
			}
			if size < 4096 {
				t.Fatalf("client chain is only %d bytes", size)
			}
			return tls.Certificate{Certificate: chain, PrivateKey: key}
		}
	}
	panic("unreachable")
}

// peer is an external or in-process TLS server that echoes what it reads,
// possibly transformed.
type peer struct {
	name string
	// start returns the address of a server for the given version (0x0303
	// or 0x0304); mtls asks it to require a client certificate.
	start func(t *testing.T, version uint16, mtls bool) string
	// reverse says the server answers each line reversed (openssl -rev).
	reverse bool
}

func opensslPeer() peer {
	return peer{name: "openssl", reverse: true, start: func(t *testing.T, v uint16, mtls bool) string {
		bin := peerproc.Require(t, "openssl", "openssl")
		ca, cert, key := pemFiles(t)
		args := []string{"s_server", "-accept", "127.0.0.1:%PORT%", "-cert", cert, "-key", key, "-rev", "-quiet", "-naccept", "4"}
		if v == tls.VersionTLS12 {
			args = append(args, "-tls1_2")
		} else {
			args = append(args, "-tls1_3")
		}
		if mtls {
			args = append(args, "-CAfile", ca, "-Verify", "6", "-verify_return_error")
		}
		return peerproc.Start(t, t.TempDir(), bin, args...)
	}}
}

func gnutlsPeer() peer {
	return peer{name: "gnutls", start: func(t *testing.T, v uint16, mtls bool) string {
		bin := peerproc.Require(t, "gnutls-serv", "gnutls-bin")
		ca, cert, key := pemFiles(t)
		prio := "NORMAL:%ALLOW_SMALL_RECORDS:-VERS-ALL:+VERS-TLS1.3"
		if v == tls.VersionTLS12 {
			prio = "NORMAL:%ALLOW_SMALL_RECORDS:-VERS-ALL:+VERS-TLS1.2"
		}
		args := []string{"--echo", "-p", "%PORT%", "--x509certfile", cert, "--x509keyfile", key, "--priority", prio}
		if mtls {
			args = append(args, "--x509cafile", ca, "--require-client-cert", "--verify-client-cert")
		}
		return peerproc.Start(t, t.TempDir(), bin, args...)
	}}
}

func goPeer() peer {
	return peer{name: "go", start: func(t *testing.T, v uint16, mtls bool) string {
		cfg := &tls.Config{MinVersion: v, MaxVersion: v}
		if mtls {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
			cfg.ClientCAs = newTestPKI(t).Pool
		}
		return startGoServer(t, cfg, echo)
	}}
}

// exchange writes n bytes as newline-terminated lines of random hex and
// reads the answer back, checking that it is what p should echo. It
// returns the bytes written and read.
func exchange(t *testing.T, c net.Conn, p peer, n int) {
	t.Helper()
	const lineLen = 1024
	lines := make([][]byte, n/lineLen)
	var sent bytes.Buffer
	for i := range lines {
		raw := make([]byte, lineLen/2)
		rand.Read(raw)
		line := fmt.Appendf(nil, "%x", raw)[:lineLen-1]
		line = append(line, '\n')
		lines[i] = line
		sent.Write(line)
	}
	c.SetDeadline(time.Now().Add(90 * time.Second))
	defer c.SetDeadline(time.Time{})
	var wg sync.WaitGroup
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, werr = c.Write(sent.Bytes())
	}()
	r := bufio.NewReader(c)
	for i, want := range lines {
		got, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("line %d of %d: %v", i, len(lines), err)
		}
		if p.reverse {
			body := got[:len(got)-1]
			for a, b := 0, len(body)-1; a < b; a, b = a+1, b-1 {
				body[a], body[b] = body[b], body[a]
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("line %d differs", i)
		}
	}
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
}

// recordRelay is an independent witness of record sizes: a TCP relay that
// parses the record framing itself (not with package recordlimit) in both
// directions and remembers every record.
type recordRelay struct {
	addr string
	mu   sync.Mutex
	recs [2][]relayRecord // [0] client to server, [1] server to client
	// hellos holds the first record each client sent (its ClientHello),
	// in the order the connections came.
	hellos [][]byte
	// tamper, if set, sees each server record and returns what to forward.
	tamper func(index int, rec []byte) [][]byte
}

type relayRecord struct {
	Type     byte
	Len      int
	AfterCCS bool // the sender had sent ChangeCipherSpec before this record
}

func newRelay(t *testing.T, target string) *recordRelay {
	t.Helper()
	r := &recordRelay{}
	r.addr = testnet.Relay(t, target, 2*time.Minute, func(c, s net.Conn) {
		done := make(chan struct{})
		go func() { defer close(done); r.pipe(c, s, 0); closeWrite(s) }()
		r.pipe(s, c, 1)
		closeWrite(c)
		c.Close()
		s.Close()
		<-done
	})
	return r
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

func (r *recordRelay) Addr() string { return r.addr }

// pipe forwards whole records from src to dst, noting each.
func (r *recordRelay) pipe(src, dst net.Conn, dir int) {
	br := bufio.NewReaderSize(src, 1<<16)
	ccs := false
	for i := 0; ; i++ {
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		rec := make([]byte, 5+n)
		copy(rec, hdr)
		if _, err := io.ReadFull(br, rec[5:]); err != nil {
			return
		}
		r.mu.Lock()
		r.recs[dir] = append(r.recs[dir], relayRecord{Type: hdr[0], Len: n, AfterCCS: ccs})
		if dir == 0 && i == 0 {
			r.hellos = append(r.hellos, rec)
		}
		tamper := r.tamper
		r.mu.Unlock()
		if hdr[0] == 20 {
			ccs = true
		}
		out := [][]byte{rec}
		if dir == 1 && tamper != nil {
			out = tamper(i, rec)
		}
		for _, b := range out {
			if _, err := dst.Write(b); err != nil {
				return
			}
		}
	}
}

// records returns what the relay saw in one direction (0: client to server).
func (r *recordRelay) records(dir int) []relayRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayRecord(nil), r.recs[dir]...)
}

// clientHellos returns the first record of each client, in the order the
// connections came.
func (r *recordRelay) clientHellos() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.hellos...)
}

func maxLen(recs []relayRecord, keep func(relayRecord) bool) int {
	m := 0
	for _, rec := range recs {
		if (keep == nil || keep(rec)) && rec.Len > m {
			m = rec.Len
		}
	}
	return m
}
