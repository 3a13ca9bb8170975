// Command tlsclient is the crypto/tls counterpart of tlsappclient: the
// baseline for bench/size.
package main

import (
	"crypto/tls"
	"io"
	"os"
)

func main() {
	conn, err := tls.Dial("tcp", os.Args[1], &tls.Config{})
	if err != nil {
		os.Exit(1)
	}
	defer conn.Close()
	io.Copy(os.Stdout, conn)
}
