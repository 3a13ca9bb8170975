package tlsapp_test

import (
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
	"os"
	"time"

	"github.com/tlsapp/tlsapp/tlsapp"
)

// Serve HTTPS to devices with mutual TLS and small records, as
// http.Server.ServeTLS would: the handler reads the device's client
// certificate from r.TLS, and what the device asked for and the record cap
// in force from ServerStateFrom.
func ExampleServeTLS() {
	serverCert, deviceCert, ca := examplePKI()

	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			device := r.TLS.PeerCertificates[0].Subject.CommonName
			st, _ := tlsapp.ServerStateFrom(r.Context())
			fmt.Fprintf(w, "hello %s: you asked for record_size_limit %d, records carry at most %d bytes\n",
				device, st.OfferedRecordSizeLimit, st.Cap)
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			ClientAuth:   tls.RequireAndVerifyClientCert, // only devices of our CA
			ClientCAs:    ca,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go tlsapp.ServeTLS(srv, ln, "", "", tlsapp.ServerOptions{MaxRecord: 2048})
	defer srv.Close()

	// A device: the tlsapp client, with its certificate, asking for
	// records of at most 1024 bytes.
	tr := tlsapp.NewTransport(&tlsapp.Dialer{Config: &tlsapp.Config{
		ServerName: "localhost", RootCAs: ca, Certificates: []tls.Certificate{deviceCert}, RecordSizeLimit: 1024,
	}}, nil)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	// Output:
	// hello device-0042: you asked for record_size_limit 1024, records carry at most 1023 bytes
}

// examplePKI makes a CA, a server certificate for localhost and a device's
// client certificate, both issued by the CA.
func examplePKI() (server, device tls.Certificate, pool *x509.CertPool) {
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			log.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	ca, caKey := issue(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fleet CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, nil)
	srv, srvKey := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	dev, devKey := issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "device-0042"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: srvKey},
		tls.Certificate{Certificate: [][]byte{dev.Raw}, PrivateKey: devKey}, pool
}
