package bench

import (
	"crypto"
	"fmt"
	"io"
	"testing"

	"github.com/tlsapp/tlsapp/internal/scripted"
)

// BenchmarkHandshakeBytes reports the bytes on the wire, record headers
// included, from the client (c2s-B) and from the server (s2c-B) up to the
// end of the client's handshake: tlsapp's RecordState, a counting net.Conn
// for the baselines. Each op is one handshake on a new connection to the
// in-process server (a crypto/tls server behind tlsapp.NewListener, chain of
// leaf and CA, ECDSA P-256).
//   - full: no session cache;
//   - resumed: a session cache primed by one earlier connection
//     (tlsapp.NewSessionCache(0) for tlsapp);
//   - certcomp: TLS 1.3 against a server that compresses its certificate
//     chain with zstd for a client that offers it (compressingServer), since
//     Go's server never does; tlsapp offers compression by default,
//     tlsapp-nocomp sets DisableCertCompression.
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
			addr := compressingServer(b)
			o := opts{version: versions[1].v, limit: 2048, pool: testPKI(b).Pool, noCertCompression: cl.name == "tlsapp-nocomp"}
			var hs hsBytes
			for b.Loop() {
				hs = handshakeOnce(b, cl, addr, o)
			}
			reportHandshake(b, hs)
			certCompBytes[cl.name] = hs.received
			if comp, ok := certCompBytes["tlsapp"]; ok && cl.name == "tlsapp-nocomp" && hs.received-comp < 16 {
				b.Logf("offering compression saved %d bytes: the server did not compress", hs.received-comp)
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

// compressingServer starts a TLS 1.3 server (internal/scripted) that sends
// the bench chain as a zstd CompressedCertificate (RFC 8879) to a client
// that offers zstd, and as it is to one that does not, then waits for the
// client to hang up. No server on this machine compresses certificates:
// Debian 12's GnuTLS is built without zstd and brotli, and OpenSSL 3.0
// predates RFC 8879.
func compressingServer(b *testing.B) string {
	p := testPKI(b)
	return scripted.ServeEach(b, scripted.CertServer(p.Server.Certificate, p.Server.PrivateKey.(crypto.Signer), scripted.Zstd, nil))
}
