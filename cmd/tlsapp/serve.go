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

	"github.com/tlsapp/tlsapp/internal/connlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

type serveReport struct {
	Addr      string `json:"addr"`
	URL       string `json:"url"`
	Dir       string `json:"dir"`
	MaxRecord int    `json:"max_record"`
	TLS       string `json:"tls"`
	CAFile    string `json:"ca_file,omitempty"`
	Cert      string `json:"cert"`
	MaxConns  int    `json:"max_conns"`
	Dotfiles  bool   `json:"dotfiles"`
	MaxRanges int    `json:"max_ranges"`
	// TicketKeys is the ticket key file, with how many keys it holds.
	TicketKeys string `json:"ticket_keys,omitempty"`
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "[flags]", `
Serves a directory over HTTPS, HTTP/1.1 only (net/http's FileServer, so Range
requests work) through tlsapp.ServeTLS: no record the server sends carries
more than --max-record bytes, nor more than the client asked for with
max_fragment_length or record_size_limit.

Without --cert and --key it makes a throw-away CA and server certificate for
127.0.0.1 and localhost; --write-ca saves that CA so that clients can trust it
(tlsapp get --ca FILE). The first line printed is the address served, which
makes --addr 127.0.0.1:0 usable from scripts. Stops on SIGINT or SIGTERM.

Made to face the public: nothing outside --dir is served, symbolic links
out of it included (os.Root); names starting with a dot are neither served
nor listed unless --dotfiles; a Range header of more than --max-ranges
ranges gets the whole file; at most --max-conns connections are open at
once (more wait in the kernel's queue); slow or idle clients are cut off by
the timeouts; each request is logged on stderr in one line: time, client,
method, quoted target, protocol, status, body bytes, duration.

Sessions resume in TLS 1.2 and 1.3 with tickets that name sessions kept in
this process. With --ticket-keys FILE, tickets hold the session sealed under
the file's first key, so that every server loading the same file (several
instances behind a load balancer) resumes them: a text file of keys, one a
line, each 'openssl rand -base64 48', newest first; the first seals, all
open, so a rotation adds a key on top and drops the oldest. It must be
readable by its owner only (chmod 600). The file is read again on SIGHUP
and when it changes (checked every --ticket-keys-poll); a bad file keeps the
keys loaded before, and each reload is logged on stderr.`)
	dir := fs.String("dir", ".", "`DIR` to serve")
	addr := fs.String("addr", "127.0.0.1:8443", "`ADDR` to listen on")
	var st serverTLSFlags
	st.register(fs, "server", "other servers")
	maxRecord := fs.Int("max-record", 16384, "largest record content the server sends, `N` bytes (64 to 16384)")
	version := fs.String("tls", "", "TLS `VERSION` to allow: 1.2 or 1.3 (default: both)")
	maxConns := fs.Int("max-conns", 256, "most connections open at once, `N`")
	dotfiles := fs.Bool("dotfiles", false, "serve and list names starting with a dot")
	maxRanges := fs.Int("max-ranges", 8, "most ranges, `N`, answered in one Range header; more get the whole file")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "bound on the TLS handshake and a request's headers, a `DURATION`")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "bound on reading a whole request, a `DURATION`")
	writeTimeout := fs.Duration("write-timeout", 10*time.Minute, "bound on writing a response, a `DURATION` (slow devices need minutes for large files)")
	idleTimeout := fs.Duration("idle-timeout", 60*time.Second, "how long, a `DURATION`, a keep-alive connection may wait for its next request")
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
	if *maxConns < 1 || *maxRanges < 1 {
		return usagef("--max-conns and --max-ranges must be at least 1")
	}
	for _, d := range []*time.Duration{readHeaderTimeout, readTimeout, writeTimeout, idleTimeout} {
		if *d <= 0 {
			return usagef("timeouts must be above zero")
		}
	}
	if err := st.check(); err != nil {
		return err
	}
	v, err := parseVersion(*version)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(*dir)
	if err != nil {
		return err
	}
	defer root.Close()
	cfg := &tls.Config{NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	if v != 0 {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	r := serveReport{Dir: *dir, MaxRecord: *maxRecord, TLS: *version, MaxConns: *maxConns, Dotfiles: *dotfiles, MaxRanges: *maxRanges}
	if r.TLS == "" {
		r.TLS = "1.2,1.3"
	}
	sc, err := st.certificate()
	if err != nil {
		return err
	}
	cfg.Certificates = []tls.Certificate{sc.cert}
	r.Cert, r.CAFile = sc.desc, sc.caFile
	opts := tlsapp.ServerOptions{MaxRecord: *maxRecord}
	tickets, stopTickets, err := st.tickets(ctx, e, &opts)
	if err != nil {
		return err
	}
	defer stopTickets()
	r.TicketKeys = tickets
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
		Handler:           newFileServer(root, fileServerOptions{allowDotfiles: *dotfiles, maxRanges: *maxRanges, log: e.stderr}),
		ReadHeaderTimeout: *readHeaderTimeout,
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		MaxHeaderBytes:    16 << 10,
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
		fmt.Fprintf(e.stdout, "  limits     %d connections, %d ranges per request, dotfiles %s\n", r.MaxConns, r.MaxRanges, map[bool]string{false: "hidden", true: "served"}[r.Dotfiles])
		if r.TicketKeys != "" {
			fmt.Fprintf(e.stdout, "  tickets    %s; reread %s\n", r.TicketKeys, st.rereads())
		}
		if r.CAFile != "" {
			fmt.Fprintf(e.stdout, "  CA         written to %s (tlsapp get --ca %s %s)\n", r.CAFile, r.CAFile, r.URL)
		}
	}
	errc := make(chan error, 1)
	srv.TLSConfig = cfg
	go func() { errc <- tlsapp.ServeTLS(srv, connlimit.New(inner, *maxConns, nil, nil), "", "", opts) }()
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
