// Command tlsappclient is the smallest useful client built on tlsapp: it
// dials the address in its first argument and copies what the server sends
// to standard output. bench/size measures its binary.
package main

import (
	"context"
	"io"
	"os"

	"github.com/tlsapp/tlsapp/tlsapp"
)

func main() {
	conn, err := tlsapp.Dial(context.Background(), "tcp", os.Args[1], &tlsapp.Config{RecordSizeLimit: 2048})
	if err != nil {
		os.Exit(1)
	}
	defer conn.Close()
	io.Copy(os.Stdout, conn)
}
