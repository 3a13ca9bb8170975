package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tlsapp/tlsapp/ticketkey"
	"github.com/tlsapp/tlsapp/tlsapp"
)

// serverTLSFlags are the TLS flags serve and edge share: the certificate
// served (or a throw-away one) and the session-ticket keys of a fleet.
type serverTLSFlags struct {
	cert, key, writeCA string
	ticketKeys         string
	ticketPoll         time.Duration
}

// register adds the flags to fs; who names the server in their help ("server",
// "edge") and fleet the others sharing its keys.
func (f *serverTLSFlags) register(fs *flag.FlagSet, who, fleet string) {
	fs.StringVar(&f.cert, "cert", "", who+" certificate chain `FILE` (PEM)")
	fs.StringVar(&f.key, "key", "", who+" private key `FILE` (PEM)")
	fs.StringVar(&f.writeCA, "write-ca", "", "with a throw-away certificate, write its CA to `FILE` (PEM)")
	fs.StringVar(&f.ticketKeys, "ticket-keys", "", "session-ticket keys shared with "+fleet+", a `FILE` of base64 keys, newest first")
	fs.DurationVar(&f.ticketPoll, "ticket-keys-poll", time.Second, "how often, a `DURATION`, to check --ticket-keys for a change (0: only on SIGHUP)")
}

// check refuses what the flags cannot mean, before anything is loaded.
func (f *serverTLSFlags) check() error {
	if (f.cert == "") != (f.key == "") {
		return usagef("--cert and --key go together")
	}
	if f.cert != "" && f.writeCA != "" {
		return usagef("--write-ca is for the throw-away certificate, not with --cert")
	}
	if f.ticketPoll < 0 {
		return usagef("--ticket-keys-poll must not be negative")
	}
	return nil
}

// served is the certificate a server serves, as the flags gave it.
type served struct {
	cert   tls.Certificate
	leaf   *x509.Certificate
	desc   string // the report's line: the file, or the throw-away CA's name
	caFile string // where the throw-away CA was written, if anywhere
}

// certificate loads --cert and --key, or makes a throw-away certificate for
// 127.0.0.1 and localhost and writes its CA to --write-ca.
func (f *serverTLSFlags) certificate() (served, error) {
	if f.cert != "" {
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return served{}, err
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return served{}, fmt.Errorf("%s: %w", f.cert, err)
		}
		return served{cert: c, leaf: leaf, desc: f.cert}, nil
	}
	ta, err := newThrowaway("127.0.0.1", "localhost")
	if err != nil {
		return served{}, err
	}
	s := served{cert: ta.Server, leaf: ta.Server.Leaf, desc: "throw-away, issued by " + ta.CA.Subject.String()}
	if f.writeCA != "" {
		if err := os.WriteFile(f.writeCA, pemCert(ta.CA), 0o644); err != nil {
			return served{}, err
		}
		s.caFile = f.writeCA
	}
	return s, nil
}

// tickets loads --ticket-keys into opts and rereads the file on SIGHUP and
// on change until ctx ends or stop is called; it returns the keys'
// description for the report ("" without --ticket-keys).
func (f *serverTLSFlags) tickets(ctx context.Context, e *env, opts *tlsapp.ServerOptions) (desc string, stop func(), err error) {
	if f.ticketKeys == "" {
		return "", func() {}, nil
	}
	ring, err := ticketkey.Load(f.ticketKeys)
	if err != nil {
		return "", nil, err
	}
	opts.TicketKeys = ring
	return describeTicketKeys(ring), reloadTicketKeys(ctx, ring, f.ticketPoll, e.stderr), nil
}

// rereads says when the ticket-key file is read again, for the report.
func (f *serverTLSFlags) rereads() string {
	if f.ticketPoll == 0 {
		return "on SIGHUP"
	}
	return "on SIGHUP and on change"
}
