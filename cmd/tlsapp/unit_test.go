package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerdict(t *testing.T) {
	c := func(v uint16, ext string, limit int, result string, largest int) probeCase {
		b := recordBound(v, tls.TLS_AES_128_GCM_SHA256, limit)
		if v == tls.VersionTLS12 {
			b = recordBound(v, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, limit)
		}
		return probeCase{Version: versionName(v), version: v, Extension: ext, Limit: limit, Result: result,
			LargestReceived: largest, Bound: b, Within: largest <= b}
	}
	// An OpenSSL-like server: MFL honoured, RSL ignored.
	r := &probeReport{DeviceLimit: 2048, Cases: []probeCase{
		c(tls.VersionTLS12, "max_fragment_length", 2048, "agreed", 2072),
		c(tls.VersionTLS13, "max_fragment_length", 1024, "agreed", 1041),
		c(tls.VersionTLS13, "max_fragment_length", 2048, "agreed", 2065),
		c(tls.VersionTLS13, "max_fragment_length", 4096, "agreed", 4113),
		c(tls.VersionTLS13, "record_size_limit", 2048, "ignored", 16401),
	}}
	v := verdict(r)
	if !v.Works || !strings.Contains(v.Recommend, "--tls 1.3 --mfl 2048") {
		t.Errorf("OpenSSL-like: %+v", v)
	}
	// A server that agrees and then lies.
	r.Cases = []probeCase{c(tls.VersionTLS12, "max_fragment_length", 2048, "violated", 16408)}
	if v := verdict(r); v.Works || len(v.Details) != 1 {
		t.Errorf("liar: %+v", v)
	}
	// Ignored, small answers: only by luck.
	r.Cases = []probeCase{c(tls.VersionTLS13, "record_size_limit", 2048, "ignored", 900)}
	if v := verdict(r); v.Works || !strings.Contains(v.Summary, "only by luck") {
		t.Errorf("lucky: %+v", v)
	}
}

// TestGetMutualTLS downloads from a Go server that requires a client
// certificate.
func TestGetMutualTLS(t *testing.T) {
	ta, err := newThrowaway("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pemCert(ta.CA), 0o644)

	// A client certificate issued by its own CA.
	clientCAKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "device CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, clientCAKey.Public(), clientCAKey)
	clientCA, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "device 42"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	leafDER, _ := x509.CreateCertificate(rand.Reader, leafTmpl, clientCA, key.Public(), clientCAKey)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)

	pool := x509.NewCertPool()
	pool.AddCert(clientCA)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{ta.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello " + r.TLS.PeerCertificates[0].Subject.CommonName))
	}), ErrorLog: quietLog()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "https://" + ln.Addr().String() + "/"

	for _, v := range []string{"1.2", "1.3"} {
		out := filepath.Join(dir, "out"+v)
		r := runBin(t, "get", "--tls", v, "--ca", ca, "--cert", certFile, "--key", keyFile, "--mfl", "1024", "-o", out, url)
		if b, _ := os.ReadFile(out); r.code != 0 || string(b) != "hello device 42" {
			t.Errorf("TLS %s with a client certificate: status %d, body %q", v, r.code, b)
		}
	}
	if r := runBin(t, "get", "--ca", ca, "-o", filepath.Join(dir, "x"), url); r.code == 0 {
		t.Errorf("no client certificate, yet the download succeeded")
	}
}
