package tlsapp_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"net"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Resume sessions across a listener's connections, with tickets small
// enough for a client that asked for 64-byte records.
func ExampleNewServerSessionCache() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	self, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(self)

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	cache := tlsapp.NewServerSessionCache(10000, 32<<20) // up to 10,000 sessions in 32 MiB
	ln := tlsapp.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	}, tlsapp.ServerOptions{SessionCache: cache})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { fmt.Fprintln(c, "hello"); c.Close() }()
		}
	}()

	sessions := tlsapp.NewSessionCache(1)
	for i := range 2 {
		conn, err := tlsapp.Dial(context.Background(), "tcp", inner.Addr().String(), &tlsapp.Config{
			ServerName: "localhost", RootCAs: pool, RecordSizeLimit: 64, ClientSessionCache: sessions})
		if err != nil {
			log.Fatal(err)
		}
		bufio.NewReader(conn).ReadString('\n') // the TLS 1.3 ticket comes with the greeting
		fmt.Printf("connection %d resumed: %v\n", i+1, conn.RecordState().Resumed)
		conn.Close()
	}
	// Output:
	// connection 1 resumed: false
	// connection 2 resumed: true
}
