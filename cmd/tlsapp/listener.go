package main

import (
	"crypto/tls"
	"net"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// serverListener keeps every record the server sends within maxRecord and
// what each client asks for.
func serverListener(inner net.Listener, cfg *tls.Config, maxRecord int) net.Listener {
	return tlsapp.NewListener(inner, cfg, tlsapp.ServerOptions{MaxRecord: maxRecord})
}
