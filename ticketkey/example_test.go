package ticketkey_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tlsapp/tlsapp/ticketkey"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// Two servers (here two listeners of one process; in a fleet, two hosts
// behind a load balancer) load one key file, and a session made with the
// first resumes on the second.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "ticketkey")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ticket.keys")
	var key [ticketkey.KeyLen]byte
	rand.Read(key[:]) // what `openssl rand -base64 48` prints, decoded
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key[:])+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}

	cert, pool := selfSigned()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var addrs []string
	for range 2 {
		ring, err := ticketkey.Load(path)
		if err != nil {
			log.Fatal(err)
		}
		// Each server rereads the file when it changes; a bad file keeps
		// the keys it had.
		go ring.Watch(ctx, time.Second, func(err error) {
			if err != nil {
				log.Printf("ticket keys: %v (keeping the keys loaded before)", err)
			}
		})
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		ln := tlsapp.NewListener(inner, &tls.Config{Certificates: []tls.Certificate{cert}},
			tlsapp.ServerOptions{MaxRecord: 2048, TicketKeys: ring})
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
		addrs = append(addrs, inner.Addr().String())
	}

	sessions := tlsapp.NewSessionCache(1)
	for i, addr := range addrs {
		conn, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{
			ServerName: "localhost", RootCAs: pool, ClientSessionCache: sessions, MaxVersion: tls.VersionTLS12})
		if err != nil {
			log.Fatal(err)
		}
		bufio.NewReader(conn).ReadString('\n')
		fmt.Printf("server %d resumed: %v\n", i+1, conn.RecordState().Resumed)
		conn.Close()
	}
	// Output:
	// server 1 resumed: false
	// server 2 resumed: true
}

func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	self, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(self)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
