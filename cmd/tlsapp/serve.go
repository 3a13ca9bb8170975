package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

type serveReport struct {
	Addr      string `json:"addr"`
	URL       string `json:"url"`
	Dir       string `json:"dir"`
	MaxRecord int    `json:"max_record"`
	TLS       string `json:"tls"`
	CAFile    string `json:"ca_file,omitempty"`
	Cert      string `json:"cert"`
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "[flags]", `
Serves a directory over HTTPS (net/http's FileServer, so Range requests work)
through tlsapp.NewListener: no record the server sends carries more than
--max-record bytes, nor more than the client asked for with
max_fragment_length or record_size_limit.

Without --cert and --key it makes a throw-away CA and server certificate for
127.0.0.1 and localhost; --write-ca saves that CA so that clients can trust it
(tlsapp get --ca FILE). The first line printed is the address served, which
makes --addr 127.0.0.1:0 usable from scripts. Stops on SIGINT or SIGTERM.`)
	dir := fs.String("dir", ".", "`directory` to serve")
	addr := fs.String("addr", "127.0.0.1:8443", "`address` to listen on")
	certFile := fs.String("cert", "", "server certificate chain `FILE` (PEM)")
	keyFile := fs.String("key", "", "server private key `FILE` (PEM)")
	writeCA := fs.String("write-ca", "", "with a throw-away certificate, write its CA to `FILE` (PEM)")
	maxRecord := fs.Int("max-record", 16384, "largest record content the server sends, in `bytes` (64 to 16384)")
	version := fs.String("tls", "", "TLS `version` to allow: 1.2 or 1.3 (default: both)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments (use --dir)")
	}
	if *maxRecord < 64 || *maxRecord > 16384 {
		return usagef("--max-record must be between 64 and 16384")
	}
	v, err := parseVersion(*version)
	if err != nil {
		return err
	}
	if st, err := os.Stat(*dir); err != nil {
		return err
	} else if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", *dir)
	}
	cfg := &tls.Config{NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	if v != 0 {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	r := serveReport{Dir: *dir, MaxRecord: *maxRecord, TLS: *version}
	if r.TLS == "" {
		r.TLS = "1.2,1.3"
	}
	switch {
	case *certFile != "" || *keyFile != "":
		if *certFile == "" || *keyFile == "" {
			return usagef("--cert and --key go together")
		}
		if *writeCA != "" {
			return usagef("--write-ca is for the throw-away certificate, not with --cert")
		}
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{c}
		r.Cert = *certFile
	default:
		ta, err := newThrowaway("127.0.0.1", "localhost")
		if err != nil {
			return err
		}
		cfg.Certificates = []tls.Certificate{ta.Server}
		r.Cert = "throw-away, issued by " + ta.CA.Subject.String()
		if *writeCA != "" {
			if err := os.WriteFile(*writeCA, pemCert(ta.CA), 0o644); err != nil {
				return err
			}
			r.CAFile = *writeCA
		}
	}
	inner, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	r.Addr = inner.Addr().String()
	r.URL = "https://" + r.Addr + "/"
	abs, err := filepath.Abs(*dir)
	if err == nil {
		r.Dir = abs
	}
	srv := &http.Server{
		Handler:           http.FileServer(http.Dir(*dir)),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quietLog(),
	}
	if e.json {
		if err := e.emitJSON(r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "serving %s on %s\n", r.Dir, r.URL)
		fmt.Fprintf(e.stdout, "  records    at most %d content bytes, or less if the client asks (tlsapp.NewListener)\n", r.MaxRecord)
		fmt.Fprintf(e.stdout, "  TLS        %s\n", r.TLS)
		fmt.Fprintf(e.stdout, "  cert       %s\n", r.Cert)
		if r.CAFile != "" {
			fmt.Fprintf(e.stdout, "  CA         written to %s (tlsapp get --ca %s %s)\n", r.CAFile, r.CAFile, r.URL)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(serverListener(inner, cfg, *maxRecord)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
