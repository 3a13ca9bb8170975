package tlsapp_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Tell a fatal alert from other errors, and who sent it: here the client
// refuses a server whose root it does not trust, and tells the server so
// with bad_certificate.
func ExampleAlertError() {
	addr, _ := exampleServer()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tlsapp.Dial(ctx, "tcp", addr, &tlsapp.Config{ServerName: "localhost", RootCAs: x509.NewCertPool()})
	var ae *tlsapp.AlertError
	if errors.As(err, &ae) {
		fmt.Println("alert:", ae.Alert)
		fmt.Println("sent by the server:", ae.Remote)
	}
	// Output:
	// alert: bad_certificate
	// sent by the server: false
}
