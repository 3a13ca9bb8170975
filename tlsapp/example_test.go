package tlsapp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Dial a server with a 2048-byte record limit and report what it agreed to.
// Go's crypto/tls server, like most public servers, answers neither
// extension: the connection still works, with full-size records.
func ExampleDial() {
	addr, pool := exampleServer()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{
		ServerName:        "localhost",
		RootCAs:           pool,
		MaxFragmentLength: 2048,
		RecordSizeLimit:   2048,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	n, _ := io.Copy(io.Discard, conn)

	st := conn.RecordState()
	fmt.Println("received", n, "bytes")
	fmt.Println("agreed:", st.Agreed)
	fmt.Println("send limit:", st.SendLimit)
	fmt.Println("verified by:", st.Anchors[0].Subject)
	// Output:
	// received 65536 bytes
	// agreed: none
	// send limit: 16384
	// verified by: CN=Example Root
}

// exampleServer starts a crypto/tls server on 127.0.0.1 that sends 64 KiB
// and closes, and returns its address and a pool holding its root.
func exampleServer() (string, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, _ := x509.CreateCertificate(rand.Reader, root, root, &key.PublicKey, key)
	root, _ = x509.ParseCertificate(rootDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leaf, root, &key.PublicKey, key)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write(make([]byte, 64<<10))
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return ln.Addr().String(), pool
}

var _ net.Conn = (*tlsapp.Conn)(nil)

// Serve files over HTTPS so that no record exceeds 2048 bytes of content,
// for devices whose modem cannot ask for smaller records.
func ExampleNewListener() {
	addr, pool := exampleServer() // only for its certificate authority
	_ = addr
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	self, _ := x509.ParseCertificate(der)
	pool.AddCert(self)

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ln := tlsapp.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"http/1.1"},
	}, tlsapp.ServerOptions{MaxRecord: 2048})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "image.bin", time.Time{}, bytes.NewReader(make([]byte, 100000)))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	conn, err := tlsapp.Dial(context.Background(), "tcp", inner.Addr().String(), &tlsapp.Config{ServerName: "localhost", RootCAs: pool})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /image.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	io.Copy(io.Discard, conn)
	fmt.Println("largest record received:", conn.RecordState().LargestReceived)
	// Output: largest record received: 2065
}
