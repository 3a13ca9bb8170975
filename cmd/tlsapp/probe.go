package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tlsapp/tlsapp/recordlimit"
	"github.com/tlsapp/tlsapp/tlsapp"
)

var (
	probeVersions = []uint16{tls.VersionTLS12, tls.VersionTLS13}
	probeSizes    = []int{512, 1024, 2048, 4096}
)

type probeReport struct {
	Target          string              `json:"target"`
	ServerName      string              `json:"server_name"`
	Insecure        bool                `json:"insecure"`
	DeviceLimit     int                 `json:"device_limit"`
	Versions        []versionReport     `json:"versions"`
	Chain           []certReport        `json:"chain"`
	ChainBytes      int                 `json:"chain_bytes"`
	Anchors         []anchorCheck       `json:"anchors"`
	CertCompression compressionReport   `json:"certificate_compression"`
	Cases           []probeCase         `json:"cases"`
	Verdict         verdictReport       `json:"verdict"`
	chainCerts      []*x509.Certificate // for the anchor checks
}

// versionReport is a plain connection (no record-size extension) in one
// version, followed by a second one that tries to resume its session.
type versionReport struct {
	Version                string         `json:"version"`
	OK                     bool           `json:"ok"`
	Error                  string         `json:"error,omitempty"`
	CipherSuite            string         `json:"cipher_suite,omitempty"`
	HandshakeBytesSent     int64          `json:"handshake_bytes_sent,omitempty"`
	HandshakeBytesReceived int64          `json:"handshake_bytes_received,omitempty"`
	LargestReceived        int            `json:"largest_record_received,omitempty"`
	ResponseBytes          int64          `json:"response_bytes,omitempty"`
	Resumption             *resumeCheck   `json:"resumption,omitempty"`
	VerifiedBy             []anchorReport `json:"verified_by,omitempty"`
}

type resumeCheck struct {
	Resumed                bool   `json:"resumed"`
	HandshakeBytesSent     int64  `json:"handshake_bytes_sent"`
	HandshakeBytesReceived int64  `json:"handshake_bytes_received"`
	Error                  string `json:"error,omitempty"`
}

type certReport struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Bytes    int       `json:"bytes"`
	Key      string    `json:"key"`
	NotAfter time.Time `json:"not_after"`
}

type anchorCheck struct {
	Source   string `json:"source"`
	Tag      uint32 `json:"tag,omitempty"`
	Subject  string `json:"subject"`
	Verifies bool   `json:"verifies"`
	Error    string `json:"error,omitempty"`
}

type compressionReport struct {
	Detected              string `json:"detected"` // yes, no, unknown
	HandshakeBytesOffered int64  `json:"handshake_bytes_received_offered,omitempty"`
	HandshakeBytesWithout int64  `json:"handshake_bytes_received_not_offered,omitempty"`
	Note                  string `json:"note"`
}

// probeCase is one connection offering one extension at one size.
type probeCase struct {
	Version         string `json:"version"`
	Extension       string `json:"extension"` // max_fragment_length or record_size_limit
	Limit           int    `json:"limit"`
	Result          string `json:"result"` // agreed, ignored, violated, failed, skipped
	AgreedValue     int    `json:"agreed_value,omitempty"`
	LargestReceived int    `json:"largest_record_received"`
	Bound           int    `json:"bound"` // the largest record that respects Limit
	Within          bool   `json:"within_limit"`
	ResponseBytes   int64  `json:"response_bytes"`
	Error           string `json:"error,omitempty"`
	version         uint16
}

type verdictReport struct {
	Works     bool     `json:"works"`
	Summary   string   `json:"summary"`
	Recommend string   `json:"recommend,omitempty"`
	Details   []string `json:"details,omitempty"`
}

// prober holds what every probe connection shares.
type prober struct {
	base     tlsapp.Config
	addr     string
	host     string
	path     string
	readMax  int64
	readTime time.Duration
	timeout  time.Duration
}

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "probe", "[flags] HOST:PORT", `
Answers "will my constrained device work with this server?". probe connects
in TLS 1.2 and TLS 1.3, offering max_fragment_length and record_size_limit at
512, 1024, 2048 and 4096 bytes, one at a time. On each connection it sends a
small HTTP request (GET --path) and reads the answer for a bounded time and
amount, then reports whether the server agreed and the largest record it
actually sent. It also reports the certificate chain with its sizes, which of
the given anchors (--ca files, --store) verify it, whether the server
compresses its certificate (RFC 8879, detected from handshake sizes), whether
it resumes sessions, and a verdict for a device limited to --device-limit
bytes.

Verification is on: the chain must verify against the --ca files, the store,
or the system pool. --insecure turns it off to probe a server whose chain
cannot be verified; the report says so loudly.

Exit status: 0 when the device will work, 3 when it will not or only by luck,
1 when the probe could not run.`)
	var cf clientFlags
	cf.register(fs, false)
	cf.timeout = 10 * time.Second
	fs.BoolVar(&cf.insecure, "insecure", false, "do NOT verify the server's certificate (diagnostics only)")
	path := fs.String("path", "/", "`path` of the HTTP GET sent on each connection")
	deviceLimit := fs.Int("device-limit", 2048, "largest record content, in `bytes`, the device can take")
	readMax := fs.Int64("read-max", 256<<10, "read at most `N` bytes of each answer")
	readTime := fs.Duration("read-time", 2*time.Second, "read each answer for at most this long")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("probe takes one HOST:PORT")
	}
	host, _, err := net.SplitHostPort(pos[0])
	if err != nil {
		return usagef("%v", err)
	}
	if *deviceLimit < 64 || *deviceLimit > 16384 {
		return usagef("--device-limit must be between 64 and 16384")
	}
	cfg, err := cf.config(ctx)
	if err != nil {
		return err
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	candidates, err := cf.fileAnchors()
	if err != nil {
		return err
	}
	if cf.store != "" {
		sa, err := storeAnchors(ctx, cf.store, cf.tags)
		if err != nil {
			return err
		}
		candidates = append(candidates, sa...)
	}
	if cf.insecure && !e.json {
		fmt.Fprintf(e.stderr, "\n!!! --insecure: CERTIFICATE VERIFICATION IS OFF. Anyone on the path could be answering.\n!!! Use this only to diagnose; a device must never connect like this.\n\n")
	}

	p := &prober{base: *cfg, addr: pos[0], host: host, path: *path, readMax: *readMax, readTime: *readTime, timeout: cf.timeout}
	r := &probeReport{Target: pos[0], ServerName: cfg.ServerName, Insecure: cf.insecure, DeviceLimit: *deviceLimit}

	// Plain connections and resumption, per version.
	supported := map[uint16]bool{}
	var verifyErr error
	for _, v := range probeVersions {
		vr := p.plain(ctx, v, r)
		r.Versions = append(r.Versions, vr)
		supported[v] = vr.OK
		if !vr.OK && verifyErr == nil && looksLikeVerification(vr.Error) {
			verifyErr = errors.New(vr.Error)
		}
	}
	if !supported[tls.VersionTLS12] && !supported[tls.VersionTLS13] {
		if verifyErr != nil && !cf.insecure {
			r.Verdict = verdictReport{Summary: "could not verify the server's certificate: nothing else was probed",
				Recommend: "give the right CA with --ca or --store, or rerun with --insecure to probe anyway"}
		} else {
			r.Verdict = verdictReport{Summary: "no TLS 1.2 or 1.3 connection could be made"}
		}
		p.emit(e, r)
		return errReported
	}

	// Anchors.
	for _, a := range candidates {
		ac := anchorCheck{Source: a.Source, Tag: a.Tag, Subject: a.Cert.Subject.String()}
		if err := a.check(cfg.ServerName, r.chainCerts, time.Now()); err != nil {
			ac.Error = err.Error()
		} else {
			ac.Verifies = true
		}
		r.Anchors = append(r.Anchors, ac)
	}

	// Certificate compression (TLS 1.3 only).
	r.CertCompression = p.compression(ctx, supported[tls.VersionTLS13], r)

	// The record-size cases: build the list, then run them, four at a time.
	for _, v := range probeVersions {
		for _, ext := range []string{"max_fragment_length", "record_size_limit"} {
			for _, n := range probeSizes {
				c := probeCase{Version: versionName(v), Extension: ext, Limit: n, version: v}
				if !supported[v] {
					c.Result = "skipped"
					c.Error = "the server does not do " + versionName(v)
				}
				r.Cases = append(r.Cases, c)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range r.Cases {
		if r.Cases[i].Result == "skipped" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			p.limitCase(ctx, &r.Cases[i])
		}()
	}
	wg.Wait()
	r.Verdict = verdict(r)
	p.emit(e, r)
	if !r.Verdict.Works {
		return exitStatus(3)
	}
	return nil
}

// attempt is the outcome of one probe connection.
type attempt struct {
	rs    tlsapp.RecordState
	cs    tls.ConnectionState
	read  int64
	err   error // handshake error, or a read error other than a timeout
	hsErr bool  // err came from the handshake
}

// connect dials with cfg, sends the request and reads the answer for a
// bounded time and amount.
func (p *prober) connect(ctx context.Context, cfg *tlsapp.Config) attempt {
	var a attempt
	hctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := tlsapp.Dial(hctx, "tcp", p.addr, cfg)
	if err != nil {
		a.err, a.hsErr = err, true
		return a
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(p.readTime))
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsapp-probe\r\nConnection: close\r\n\r\n", p.path, p.host)
	if _, err := io.WriteString(c, req); err != nil {
		a.err = err
	} else {
		a.read, err = io.Copy(io.Discard, io.LimitReader(c, p.readMax))
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			a.err = err
		}
	}
	a.rs = c.RecordState()
	a.cs = c.ConnectionState().ConnectionState
	return a
}

func (p *prober) config(v uint16) *tlsapp.Config {
	cfg := p.base
	cfg.MinVersion, cfg.MaxVersion = v, v
	return &cfg
}

// plain connects in version v with no record-size extension, then again to
// test resumption; the first successful one fills in the chain.
func (p *prober) plain(ctx context.Context, v uint16, r *probeReport) versionReport {
	vr := versionReport{Version: versionName(v)}
	cfg := p.config(v)
	cfg.ClientSessionCache = tlsapp.NewLRUClientSessionCache(4)
	a := p.connect(ctx, cfg)
	if a.hsErr {
		vr.Error = a.err.Error()
		return vr
	}
	vr.OK = true
	vr.CipherSuite = suiteName(a.rs.CipherSuite)
	vr.HandshakeBytesSent, vr.HandshakeBytesReceived = a.rs.HandshakeBytesSent, a.rs.HandshakeBytesReceived
	vr.LargestReceived = a.rs.LargestReceived
	vr.ResponseBytes = a.read
	vr.VerifiedBy = anchorsOf(a.rs.Anchors)
	if r.chainCerts == nil {
		r.chainCerts = a.cs.PeerCertificates
		for _, c := range a.cs.PeerCertificates {
			r.Chain = append(r.Chain, certReport{
				Subject: c.Subject.String(), Issuer: c.Issuer.String(),
				Bytes: len(c.Raw), Key: keyName(c), NotAfter: c.NotAfter,
			})
			r.ChainBytes += len(c.Raw)
		}
	}
	b := p.connect(ctx, cfg)
	rc := &resumeCheck{Resumed: b.rs.Resumed, HandshakeBytesSent: b.rs.HandshakeBytesSent, HandshakeBytesReceived: b.rs.HandshakeBytesReceived}
	if b.hsErr {
		rc.Error = b.err.Error()
	}
	vr.Resumption = rc
	return vr
}

// compression compares the TLS 1.3 handshake with certificate compression
// offered (tlsapp's default) and without: the Certificate message is
// encrypted, so its size is the only witness the client has.
func (p *prober) compression(ctx context.Context, tls13 bool, r *probeReport) compressionReport {
	cr := compressionReport{Detected: "unknown"}
	if !tls13 {
		cr.Note = "certificate compression exists only in TLS 1.3, which the server does not do"
		return cr
	}
	with := p.connect(ctx, p.config(tls.VersionTLS13))
	cfg := p.config(tls.VersionTLS13)
	cfg.DisableCertCompression = true
	without := p.connect(ctx, cfg)
	if with.hsErr || without.hsErr {
		cr.Note = "a comparison handshake failed"
		return cr
	}
	cr.HandshakeBytesOffered, cr.HandshakeBytesWithout = with.rs.HandshakeBytesReceived, without.rs.HandshakeBytesReceived
	saved := cr.HandshakeBytesWithout - cr.HandshakeBytesOffered
	threshold := max(64, int64(r.ChainBytes)/10)
	if saved >= threshold {
		cr.Detected = "yes"
		cr.Note = fmt.Sprintf("offering zstd/brotli compression made the server's handshake %d B smaller (chain: %d B)", saved, r.ChainBytes)
	} else {
		cr.Detected = "no"
		cr.Note = fmt.Sprintf("the server's handshake is the same size (±%d B) whether or not compression is offered; "+
			"the algorithm itself is not visible to the client", abs(saved))
	}
	return cr
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// limitCase runs one record-size case.
func (p *prober) limitCase(ctx context.Context, c *probeCase) {
	cfg := p.config(c.version)
	if c.Extension == "max_fragment_length" {
		cfg.MaxFragmentLength = c.Limit
	} else {
		cfg.RecordSizeLimit = c.Limit
	}
	a := p.connect(ctx, cfg)
	c.LargestReceived = a.rs.LargestReceived
	c.ResponseBytes = a.read
	suite := a.rs.CipherSuite
	c.Bound = recordBound(c.version, suite, c.Limit)
	if c.Extension == "record_size_limit" && c.version == tls.VersionTLS13 {
		c.Bound-- // the limit counts the inner content-type byte
	}
	if a.hsErr {
		c.Result = "failed"
		c.Error = a.err.Error()
		if errors.Is(a.err, recordlimit.ErrNegotiation) {
			c.Result = "bad answer"
		}
		return
	}
	c.Within = c.LargestReceived <= c.Bound
	switch a.rs.Agreed {
	case recordlimit.KindMFL:
		c.Result, c.AgreedValue = "agreed", a.rs.AgreedMaxFragmentLength
	case recordlimit.KindRSL:
		c.Result, c.AgreedValue = "agreed", a.rs.PeerRecordSizeLimit
	default:
		c.Result = "ignored"
	}
	if a.err != nil {
		c.Error = a.err.Error()
		if errors.Is(a.err, recordlimit.ErrRecordOverflow) {
			c.Result = "violated"
			c.Within = false
			var roe *recordlimit.RecordOverflowError
			if errors.As(a.err, &roe) {
				c.LargestReceived = max(c.LargestReceived, roe.Len)
			}
		}
	}
}

// verdict decides whether a device limited to r.DeviceLimit will work.
func verdict(r *probeReport) verdictReport {
	L := r.DeviceLimit
	var good, lied []probeCase
	largestIgnored, ignoredRuns := 0, 0
	for _, c := range r.Cases {
		if c.Limit > L {
			continue
		}
		switch {
		case c.Result == "agreed" && c.Within:
			good = append(good, c)
		case c.Result == "violated" || (c.Result == "agreed" && !c.Within):
			lied = append(lied, c)
		case c.Result == "ignored":
			ignoredRuns++
			largestIgnored = max(largestIgnored, c.LargestReceived)
		}
	}
	var v verdictReport
	for _, c := range lied {
		v.Details = append(v.Details, fmt.Sprintf("%s %s %d: the server agreed and then sent a %d-byte record (bound %d)",
			c.Version, c.Extension, c.Limit, c.LargestReceived, c.Bound))
	}
	if len(good) > 0 {
		best := good[0]
		for _, c := range good[1:] {
			// Prefer the largest limit within the device's, then TLS 1.3,
			// then record_size_limit (it can state any size).
			if c.Limit > best.Limit || c.Limit == best.Limit && (c.version > best.version ||
				c.version == best.version && c.Extension == "record_size_limit") {
				best = c
			}
		}
		v.Works = true
		v.Summary = fmt.Sprintf("works: the server agrees to %s %d in %s and keeps to it (largest record %d B)",
			best.Extension, best.Limit, best.Version, best.LargestReceived)
		flag := "--mfl"
		if best.Extension == "record_size_limit" {
			flag = "--rsl"
		}
		v.Recommend = fmt.Sprintf("offer %s %d with %s (tlsapp get --tls %s %s %d)", best.Extension, best.Limit, best.Version,
			strings.TrimPrefix(best.Version, "TLS "), flag, best.Limit)
		for _, c := range good {
			if c == best {
				continue
			}
			v.Details = append(v.Details, fmt.Sprintf("also fine: %s %s %d", c.Version, c.Extension, c.Limit))
		}
		return v
	}
	bound := recordBound(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, L)
	switch {
	case ignoredRuns > 0 && largestIgnored <= bound:
		v.Summary = fmt.Sprintf("only by luck: the server ignores both extensions; its records stayed within %d B here (largest %d B) "+
			"but nothing binds it, and a larger answer may bring 16 KiB records", L, largestIgnored)
		v.Recommend = "have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size) or enable max_fragment_length on it"
	case ignoredRuns > 0:
		v.Summary = fmt.Sprintf("will not work: the server ignores both extensions and sends records of up to %d B, above a %d-byte device limit",
			largestIgnored, L)
		v.Recommend = "have the server cap its records (OpenSSL -max_send_frag, nginx ssl_buffer_size) or enable max_fragment_length on it"
	case len(lied) > 0:
		v.Summary = "will not work: the server agrees to small records and then sends larger ones"
	default:
		v.Summary = fmt.Sprintf("will not work: no connection offering a limit of %d B or less succeeded", L)
	}
	return v
}

func looksLikeVerification(s string) bool {
	return strings.Contains(s, "certificate") || strings.Contains(s, "x509") || strings.Contains(s, "trust anchor")
}

func keyName(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

func (p *prober) emit(e *env, r *probeReport) {
	if e.json {
		e.emitJSON(r)
		return
	}
	printProbe(e.stdout, r)
}

func printProbe(w io.Writer, r *probeReport) {
	fmt.Fprintf(w, "tlsapp probe %s (server name %s)\n", r.Target, r.ServerName)
	if r.Insecure {
		fmt.Fprintf(w, "\n  !!! CERTIFICATE VERIFICATION WAS OFF (--insecure): nothing here proves who answered !!!\n")
	}
	fmt.Fprintf(w, "\nVersions (no record-size extension offered)\n")
	for _, v := range r.Versions {
		if !v.OK {
			fmt.Fprintf(w, "  %-8s no: %s\n", v.Version, v.Error)
			continue
		}
		fmt.Fprintf(w, "  %-8s yes, %s; handshake %d B sent / %d B received; largest record %d B\n",
			v.Version, v.CipherSuite, v.HandshakeBytesSent, v.HandshakeBytesReceived, v.LargestReceived)
		if rc := v.Resumption; rc != nil {
			switch {
			case rc.Error != "":
				fmt.Fprintf(w, "           resumption: second connection failed: %s\n", rc.Error)
			case rc.Resumed:
				fmt.Fprintf(w, "           resumption: yes (handshake %d B sent / %d B received)\n", rc.HandshakeBytesSent, rc.HandshakeBytesReceived)
			default:
				fmt.Fprintf(w, "           resumption: no (second connection ran a full handshake)\n")
			}
		}
	}
	fmt.Fprintf(w, "\nCertificate chain as sent (%d B in %d certificate(s))\n", r.ChainBytes, len(r.Chain))
	for i, c := range r.Chain {
		fmt.Fprintf(w, "  %d  %5d B  %-16s %s (issuer %s, until %s)\n", i, c.Bytes, c.Key, c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"))
	}
	fmt.Fprintf(w, "\nTrust anchors\n")
	for _, v := range r.Versions {
		if v.OK && !r.Insecure {
			for _, a := range v.VerifiedBy {
				fmt.Fprintf(w, "  verified by %s\n", a)
			}
			if len(v.VerifiedBy) == 0 {
				fmt.Fprintf(w, "  verified (no anchor reported)\n")
			}
			break
		}
	}
	if len(r.Anchors) == 0 {
		fmt.Fprintf(w, "  (no --ca or --store anchors given to check one by one)\n")
	}
	// A bundle file holds many anchors: name those that verify and count
	// the rest.
	perSource := map[string]int{}
	for _, a := range r.Anchors {
		perSource[a.Source]++
	}
	failed := map[string]int{}
	for _, a := range r.Anchors {
		switch {
		case a.Verifies:
			fmt.Fprintf(w, "  ok    %s: %s\n", a.Source, a.Subject)
		case perSource[a.Source] <= 3:
			fmt.Fprintf(w, "  no    %s: %s: %s\n", a.Source, a.Subject, a.Error)
		default:
			failed[a.Source]++
		}
	}
	for src, n := range failed {
		fmt.Fprintf(w, "  no    %s: %d other anchor(s) do not verify the chain (--json lists them)\n", src, n)
	}
	fmt.Fprintf(w, "\nCertificate compression (RFC 8879): %s\n  %s\n", r.CertCompression.Detected, r.CertCompression.Note)
	fmt.Fprintf(w, "\nRecord-size extensions (each row one connection; bound = largest record that respects the limit)\n")
	fmt.Fprintf(w, "  %-8s %-20s %5s  %-10s %7s %8s %6s  %s\n", "version", "extension", "limit", "result", "answer", "largest", "bound", "")
	for _, c := range r.Cases {
		answer, largest, bound := "-", "-", "-"
		if c.AgreedValue != 0 {
			answer = fmt.Sprint(c.AgreedValue)
		}
		if c.Result != "skipped" && c.Result != "failed" && c.Result != "bad answer" {
			largest, bound = fmt.Sprint(c.LargestReceived), fmt.Sprint(c.Bound)
		}
		note := ""
		switch {
		case c.Error != "":
			note = c.Error
		case c.Result == "ignored" && !c.Within:
			note = "records too big for this limit"
		case c.Result == "ignored":
			note = "records happened to fit"
		}
		fmt.Fprintf(w, "  %-8s %-20s %5d  %-10s %7s %8s %6s  %s\n", c.Version, c.Extension, c.Limit, c.Result, answer, largest, bound, note)
	}
	fmt.Fprintf(w, "\nVerdict for a device limited to %d-byte records: %s\n", r.DeviceLimit, r.Verdict.Summary)
	if r.Verdict.Recommend != "" {
		fmt.Fprintf(w, "  -> %s\n", r.Verdict.Recommend)
	}
	for _, d := range r.Verdict.Details {
		fmt.Fprintf(w, "  %s\n", d)
	}
}
