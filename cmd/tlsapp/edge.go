package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/edge"
	"github.com/tlsapp/tlsapp/tlsapp"
)

type edgeReport struct {
	Addr         string   `json:"addr"`
	URL          string   `json:"url"`
	Origin       string   `json:"origin"`
	Hosts        []string `json:"hosts"`
	CacheDir     string   `json:"cache_dir"`
	CacheBytes   int64    `json:"cache_bytes"`
	MaxRecord    int      `json:"max_record"`
	TLS          string   `json:"tls"`
	Cert         string   `json:"cert"`
	CAFile       string   `json:"ca_file,omitempty"`
	MetricsURL   string   `json:"metrics_url,omitempty"`
	MaxConns     int      `json:"max_conns"`
	CacheOnly    bool     `json:"cache_only_within_max_age"`
	CipherSuites []string `json:"cipher_suites_tls12"`
	// TicketKeys is the ticket key file, with how many keys it holds.
	TicketKeys string `json:"ticket_keys,omitempty"`
}

// runEdge is its own subcommand rather than serve --origin: serve's flags
// are about a directory (--dir, --dotfiles, --max-ranges) and an edge's
// about an origin and a cache; in one command half of each would refuse
// the other half.
func runEdge(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "edge", "--origin URL --cache-dir DIR [flags]", `
Runs a modem-safe HTTPS edge (package edge) in front of an origin that cannot
be changed: devices that keep their modem's TLS (TLS 1.2, no record-size
extension, records of at most 2303 bytes) download from the edge, which
sends no record above --max-record content bytes, handshake records
included, and accepts the modem's ECDHE AES-CBC suites.

Each device request is sent to the origin --origin as a conditional GET
(path and query unchanged, If-None-Match with the cached entity tag; the
device's Authorization header, no other), and the body comes from the cache
in --cache-dir only when the origin answers 304 or 200 with the cached
validator; the origin's 4xx (403 for a bad signature) is passed on. Concurrent
downloads of an uncached object make one origin request and stream from the
one fill. Only the origin is ever contacted: absolute-form targets, other
Host headers than --host, CONNECT, dot segments and encoded slashes are
refused.

Without --cert and --key it makes a throw-away CA and certificate for
127.0.0.1 and localhost; --write-ca saves the CA (tlsapp get --modem --ca FILE
URL then proves the edge). Each request is logged on stderr as one JSON line;
--metrics-addr serves Prometheus metrics. The first line printed is the
address served. Stops on SIGINT or SIGTERM, letting downloads in progress end
within --shutdown-timeout.

Several edges behind a TCP load balancer resume each other's sessions (TLS
1.2, the modem's, and 1.3) with --ticket-keys FILE, as serve does: a text
file of base64 keys ('openssl rand -base64 48'), newest first, mode 600; the
first seals, all open; reread on SIGHUP and on change (--ticket-keys-poll).`)
	origin := fs.String("origin", "", "the origin's base `URL` (https)")
	originCA := fs.String("origin-ca", "", "CA certificates `FILE` (PEM) to verify the origin with (default: the system's)")
	cacheDir := fs.String("cache-dir", "", "`DIR` of the cache (made if missing)")
	cacheSize := fs.String("cache-size", "1G", "bound on the cache on disk, `SIZE` in bytes or with K, M, G")
	addr := fs.String("addr", "127.0.0.1:8443", "`ADDR` to listen on for devices")
	var hosts listFlag
	fs.Var(&hosts, "host", "a `NAME` devices reach the edge by (Host header); repeatable (default: the certificate's names)")
	var st serverTLSFlags
	st.register(fs, "edge", "the other edges of a fleet")
	maxRecord := fs.Int("max-record", edge.DefaultMaxRecord, "largest record content the edge sends, `N` bytes (64 to 16384)")
	version := fs.String("tls", "", "TLS `VERSION` to allow: 1.2 or 1.3 (default: both)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on `ADDR` (plain HTTP, /metrics; keep it off the devices' network)")
	cacheOnly := fs.Bool("cache-only-within-max-age", false, "answer URLs without a query from the cache alone within the origin's Cache-Control max-age")
	maxConns := fs.Int("max-conns", 1024, "most device connections open at once, `N`")
	originConns := fs.Int("origin-conns", edge.DefaultOriginConns, "most connections open to the origin at once, `N` (more device requests wait for one)")
	originTimeout := fs.Duration("origin-timeout", edge.DefaultOriginTimeout, "bound, a `DURATION`, on the origin's response headers and on each read of its body")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "bound on the TLS handshake and a request's headers, a `DURATION`")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "bound on reading a whole request, a `DURATION`")
	writeTimeout := fs.Duration("write-timeout", 10*time.Minute, "bound on writing a response, a `DURATION` (a modem needs minutes for an image)")
	idleTimeout := fs.Duration("idle-timeout", 60*time.Second, "how long, a `DURATION`, a keep-alive connection may wait for its next request")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, how long, a `DURATION`, downloads in progress may take to end")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("edge takes no arguments (use --origin)")
	}
	if *origin == "" || *cacheDir == "" {
		return usagef("--origin and --cache-dir are needed")
	}
	if *maxRecord < 64 || *maxRecord > 16384 {
		return usagef("--max-record must be between 64 and 16384")
	}
	if *maxConns < 1 || *originConns < 1 {
		return usagef("--max-conns and --origin-conns must be at least 1")
	}
	for _, d := range []*time.Duration{originTimeout, readHeaderTimeout, readTimeout, writeTimeout, idleTimeout, shutdownTimeout} {
		if *d <= 0 {
			return usagef("timeouts must be above zero")
		}
	}
	if err := st.check(); err != nil {
		return err
	}
	size, err := parseSize(*cacheSize)
	if err != nil {
		return err
	}
	v, err := parseVersion(*version)
	if err != nil {
		return err
	}
	var roots *x509.CertPool
	if *originCA != "" {
		certs, err := loadCerts(*originCA)
		if err != nil {
			return err
		}
		roots = x509.NewCertPool()
		for _, c := range certs {
			roots.AddCert(c)
		}
	}
	tcfg := &tls.Config{}
	if v != 0 {
		tcfg.MinVersion, tcfg.MaxVersion = v, v
	}
	r := edgeReport{Origin: *origin, CacheDir: *cacheDir, CacheBytes: size, MaxRecord: *maxRecord, TLS: *version,
		MaxConns: *maxConns, CacheOnly: *cacheOnly}
	if r.TLS == "" {
		r.TLS = "1.2,1.3"
	}
	for _, s := range edge.CipherSuites() {
		r.CipherSuites = append(r.CipherSuites, tls.CipherSuiteName(s))
	}
	sc, err := st.certificate()
	if err != nil {
		return err
	}
	tcfg.Certificates = []tls.Certificate{sc.cert}
	r.Cert, r.CAFile = sc.desc, sc.caFile
	r.Hosts = hosts
	if len(r.Hosts) == 0 {
		r.Hosts = append(r.Hosts, sc.leaf.DNSNames...)
		for _, ip := range sc.leaf.IPAddresses {
			r.Hosts = append(r.Hosts, ip.String())
		}
	}
	if len(r.Hosts) == 0 {
		return usagef("the certificate names no host: give --host")
	}
	opts := tlsapp.ServerOptions{MaxRecord: *maxRecord}
	tickets, stopTickets, err := st.tickets(ctx, e, &opts)
	if err != nil {
		return err
	}
	defer stopTickets()
	r.TicketKeys = tickets
	ed, err := edge.New(edge.Config{
		Origin: *origin, OriginRoots: roots, Hosts: r.Hosts, CacheDir: *cacheDir, CacheBytes: size,
		CacheOnlyWithinMaxAge: *cacheOnly, OriginTimeout: *originTimeout, OriginConns: *originConns,
		Logger: slog.New(slog.NewJSONHandler(e.stderr, nil)),
	})
	if err != nil {
		return err
	}
	defer ed.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	r.Addr = ln.Addr().String()
	r.URL = "https://" + r.Addr + "/"
	var msrv *http.Server
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", ed.Metrics())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
		go msrv.Serve(mln)
		defer msrv.Close()
		r.MetricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	if e.json {
		if err := e.emitJSON(r); err != nil {
			ln.Close()
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "edge %s for %s\n", r.URL, r.Origin)
		fmt.Fprintf(e.stdout, "  records    at most %d content bytes, handshake included, or less if the device asks (tlsapp.NewListener)\n", r.MaxRecord)
		fmt.Fprintf(e.stdout, "  TLS        %s; in TLS 1.2 the AEAD suites, then ECDHE AES-CBC with SHA-1 and SHA-256 for modems\n", r.TLS)
		fmt.Fprintf(e.stdout, "  cert       %s\n", r.Cert)
		fmt.Fprintf(e.stdout, "  hosts      %s\n", strings.Join(r.Hosts, ", "))
		fmt.Fprintf(e.stdout, "  cache      %s, at most %d bytes; cache-only within max-age: %v\n", r.CacheDir, r.CacheBytes, r.CacheOnly)
		fmt.Fprintf(e.stdout, "  limits     %d connections\n", r.MaxConns)
		if r.TicketKeys != "" {
			fmt.Fprintf(e.stdout, "  tickets    %s; reread %s\n", r.TicketKeys, st.rereads())
		}
		if r.MetricsURL != "" {
			fmt.Fprintf(e.stdout, "  metrics    %s\n", r.MetricsURL)
		}
		if r.CAFile != "" {
			fmt.Fprintf(e.stdout, "  CA         written to %s (tlsapp get --modem --ca %s %s...)\n", r.CAFile, r.CAFile, r.URL)
		}
	}
	err = ed.Serve(ctx, ln, edge.ServeOptions{
		TLS:               tcfg,
		Server:            opts,
		MaxConns:          *maxConns,
		ReadHeaderTimeout: *readHeaderTimeout,
		ReadTimeout:       *readTimeout,
		WriteTimeout:      *writeTimeout,
		IdleTimeout:       *idleTimeout,
		ShutdownTimeout:   *shutdownTimeout,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// parseSize parses a byte count with an optional K, M or G (binary) suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > (1<<62)/mult {
		return 0, usagef("--cache-size must be a positive number of bytes, with K, M or G, not %q", s)
	}
	return n * mult, nil
}
