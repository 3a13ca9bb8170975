package tlsapp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Download through net/http with the tlsapp client, and read the
// RecordState of the connection that carried the response.
func ExampleNewTransport() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(make([]byte, 100000)))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	dialed := make(chan *tlsapp.Conn, 10) // every connection the transport dials
	tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: &tlsapp.Config{
		RootCAs: roots, MaxFragmentLength: 2048, RecordSizeLimit: 2048,
	}}, func(c *tlsapp.Conn) { dialed <- c })
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	// The connection of this one request, race-free: GotConn runs before
	// Do returns.
	var conn *tlsapp.Conn
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn.(*tlsapp.Conn) },
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/fw.bin", nil)
	resp, err := client.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	st := conn.RecordState()
	fmt.Println(resp.Proto, resp.Status, n, "bytes")
	fmt.Println("same connection as dialled:", conn == <-dialed)
	fmt.Println("agreed:", st.Agreed, "(crypto/tls answers neither extension)")
	fmt.Println("offered record_size_limit:", st.OfferedRecordSizeLimit, "largest record within the receive limit:", st.LargestReceived <= st.ReceiveLimit)
	// Output:
	// HTTP/1.1 200 OK 100000 bytes
	// same connection as dialled: true
	// agreed: none (crypto/tls answers neither extension)
	// offered record_size_limit: 2048 largest record within the receive limit: true
}

// Dial like crypto/tls's Dialer, with a net.Dialer whose Timeout bounds the
// dial and the handshake.
func ExampleDialer() {
	addr, pool := exampleServer()
	d := &tlsapp.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config:    &tlsapp.Config{ServerName: "localhost", RootCAs: pool, RecordSizeLimit: 1024},
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	n, _ := io.Copy(io.Discard, c)
	st := c.(*tlsapp.Conn).RecordState()
	fmt.Println("received", n, "bytes; offered record_size_limit", st.OfferedRecordSizeLimit)
	fmt.Println("ended with close_notify:", st.CloseNotify)
	// Output:
	// received 65536 bytes; offered record_size_limit 1024
	// ended with close_notify: true
}
