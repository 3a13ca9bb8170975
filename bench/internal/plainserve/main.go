// Command plainserve is BenchmarkEdge's baseline server: Go's net/http on
// plain crypto/tls (records of up to 16 KiB, no cap) serving one file from
// memory, with the TLS 1.2 suites an edge accepts. It prints the address
// it listens on as its first line and serves until killed.
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/tlsapp/tlsapp/edge"
)

func main() {
	cert := flag.String("cert", "", "certificate chain (PEM)")
	key := flag.String("key", "", "private key (PEM)")
	file := flag.String("file", "", "the file served at /fw/image.bin")
	flag.Parse()
	c, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	mod := time.Now()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"plain"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", mod, bytes.NewReader(body))
	}), ReadHeaderTimeout: 60 * time.Second}
	cfg := &tls.Config{Certificates: []tls.Certificate{c}, CipherSuites: edge.CipherSuites(), NextProtos: []string{"http/1.1"}}
	log.Fatal(srv.Serve(tls.NewListener(ln, cfg)))
}
