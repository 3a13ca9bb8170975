// Command utlsclient is the plain utls counterpart of tlsappclient: the
// baseline for bench/size.
package main

import (
	"io"
	"net"
	"os"

	utls "github.com/refraction-networking/utls"
)

func main() {
	raw, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	host, _, _ := net.SplitHostPort(os.Args[1])
	conn := utls.UClient(raw, &utls.Config{ServerName: host}, utls.HelloGolang)
	if err := conn.Handshake(); err != nil {
		os.Exit(1)
	}
	defer conn.Close()
	io.Copy(os.Stdout, conn)
}
