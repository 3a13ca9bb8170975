package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tlsapp/tlsapp/probe"
	"github.com/tlsapp/tlsapp/trust"
)

// probeReport is probe's JSON output: the probe package's report (with
// the Range sizing), the anchors checked one by one and the verdict for
// the device limit.
type probeReport struct {
	*probe.Report
	DeviceLimit int           `json:"device_limit"`
	Anchors     []anchorCheck `json:"anchors,omitempty"`
	Verdict     probe.Verdict `json:"verdict"`
}

type anchorCheck struct {
	Source   string    `json:"source"`
	Tag      trust.Tag `json:"tag,omitempty"`
	Subject  string    `json:"subject"`
	Verifies bool      `json:"verifies"`
	Error    string    `json:"error,omitempty"`
}

func runProbe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "probe", "[flags] HOST:PORT | https://HOST:PORT/PATH", `
Answers "will my constrained device work with this server?". probe connects
in TLS 1.2 and TLS 1.3, first offering nothing (and once more to test
session resumption), then offering max_fragment_length and
record_size_limit at 512, 1024, 2048 and 4096 bytes, one at a time. On each
connection it sends an HTTP GET for the path and reads the answer for a
bounded time and amount, and reports whether the server agreed and the
records it actually sent. It also reports the certificate chain with its
sizes, which of the given anchors (--ca files, --store) verify it, the
certificate compression the server used (RFC 8879, from the handshake),
and the largest HTTP Range chunk for a device that keeps its own TLS
(--device-limit), measured as such a device downloads: sequential Range
requests from byte 0 on one kept-alive connection that fails, as the
device's would, on any record above the limit; it starts small, grows as
the records allow, reads past the first 128 KiB (after which Go's
crypto/tls sends larger records) and checks the last chunk, whose header is
the longest. Then the verdict: works (agreed and kept), works (capped
without answering), fits only by luck, or fails. It recommends the offer
that fits with the fewest records (the largest limit the server keeps),
flags handshake records a device without record_size_limit could not hold,
and for a device that fails lists the three remedies that leave the server
as it is, with this server's figures: TLS on the application core, a
modem-safe edge in front of the origin, or Range requests.

Verification is on: the chain must verify against the --ca files, the store,
or the system pool. --insecure turns it off to probe a server whose chain
cannot be verified; the report says so loudly. A failed handshake is
reported with its cause (an expired certificate, an unknown authority, an
alert) and nothing else.

Exit status: 0 when the device will work, 111 when it will not (verdict
"fails"), 112 when it fits only by luck; when the probe could not connect,
curl's status for the cause (7 refused, 28 timeout, 35 TLS handshake, 60
certificate): see 'tlsapp help exit-codes'.`)
	cf := clientFlags{timeout: 10 * time.Second}
	cf.register(fs, false)
	var sf supportFlags
	sf.register(fs)
	fs.BoolVar(&cf.insecure, "insecure", false, "do NOT verify the server's certificate (diagnostics only)")
	path := fs.String("path", "", "`PATH` of the HTTP GET sent on each connection (default: the URL's path, or /)")
	deviceLimit := fs.Int("device-limit", 2048, "largest record content the device can take, `N` bytes")
	readMax := fs.Int64("read-max", 256<<10, "read at most `N` bytes of each answer")
	readTime := fs.Duration("read-time", 2*time.Second, "read each answer for at most this `DURATION`")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("probe takes one HOST:PORT or https://HOST:PORT/PATH")
	}
	addr, host, urlPath, err := probe.ParseTarget(pos[0])
	if err != nil {
		return urlErrorf("%s", strings.TrimPrefix(err.Error(), "probe: "))
	}
	if *path == "" {
		*path = urlPath
	}
	if *path == "" {
		*path = "/"
	}
	if *deviceLimit < 64 || *deviceLimit > 16384 {
		return usagef("--device-limit must be between 64 and 16384")
	}
	cfg, err := cf.config(ctx)
	if err != nil {
		return withStatus(err)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	candidates, err := cf.fileAnchors()
	if err != nil {
		return withStatus(err)
	}
	if cf.store != "" {
		sa, err := storeAnchors(ctx, cf.store, cf.tags)
		if err != nil {
			return withStatus(&caFileError{err})
		}
		candidates = append(candidates, sa...)
	}
	sup, err := sf.open(e, cfg)
	if err != nil {
		return withStatus(err)
	}
	defer sup.Close()
	if cf.insecure && !e.json {
		fmt.Fprintf(e.stderr, "\n!!! --insecure: CERTIFICATE VERIFICATION IS OFF. Anyone on the path could be answering.\n!!! Use this only to diagnose; a device must never connect like this.\n\n")
	}
	o := probe.Options{Addr: addr, Host: host, Path: *path, Config: *cfg, ReadMax: *readMax, ReadTime: *readTime, Timeout: cf.timeout,
		DeviceLimit: *deviceLimit, DialTransport: sup.labelledDialer()}
	if sup.tracing() {
		o.Parallel = 1 // one connection's lines after the other's
	}
	rep, err := probe.Run(ctx, o)
	if err != nil {
		return err
	}
	r := &probeReport{Report: rep, DeviceLimit: *deviceLimit}
	if rep.Failure == nil {
		for _, a := range candidates {
			ac := anchorCheck{Source: a.Source, Tag: a.Tag, Subject: a.Cert.Subject.String()}
			if err := a.check(cfg.ServerName, rep.Certificates, time.Now()); err != nil {
				ac.Error = err.Error()
			} else {
				ac.Verifies = true
			}
			r.Anchors = append(r.Anchors, ac)
		}
	}
	r.Verdict = rep.Verdict(*deviceLimit)
	if e.json {
		e.emitJSON(r)
	} else {
		printProbe(e.stdout, r)
	}
	if code := probeExit(rep.Failure, r.Verdict); code != exitOK {
		return exitStatus(code)
	}
	return nil
}

func printProbe(w io.Writer, r *probeReport) {
	fmt.Fprintf(w, "tlsapp probe %s%s (server name %s)\n", r.Target, r.Path, r.ServerName)
	if r.Insecure {
		fmt.Fprintf(w, "\n  !!! CERTIFICATE VERIFICATION WAS OFF (--insecure): nothing here proves who answered !!!\n")
	}
	if r.Failure != nil {
		fmt.Fprintf(w, "\nConnection failed\n")
		for _, v := range r.Versions {
			fmt.Fprintf(w, "  %-8s %s\n", v.Version, v.Failure.String())
		}
		fmt.Fprintf(w, "\nVerdict for a device limited to %d-byte records: %s\n", r.DeviceLimit, r.Verdict.Summary)
		if r.Verdict.Recommend != "" {
			fmt.Fprintf(w, "  -> %s\n", r.Verdict.Recommend)
		}
		return
	}
	fmt.Fprintf(w, "\nVersions (no record-size extension offered)\n")
	for _, v := range r.Versions {
		if v.Failure != nil {
			fmt.Fprintf(w, "  %-8s no: %s\n", v.Version, v.Failure.String())
			continue
		}
		fmt.Fprintf(w, "  %-8s yes, %s; handshake %d B sent / %d B received; largest record %d B\n",
			v.Version, v.Suite, v.HandshakeBytesSent, v.HandshakeBytesReceived, v.LargestReceived)
		fmt.Fprintf(w, "           largest received by type: %s; response %d B (header %d B, body %d B, HTTP %d)\n",
			typeSizes(v.Largest.Received), v.ResponseBytes, v.HeaderBytes, v.BodyBytes, v.Status)
		if len(v.FirstResponse) > 0 {
			fmt.Fprintf(w, "           first response records: %s\n", intList(v.FirstResponse))
		}
		if rc := v.Resumption; rc != nil {
			switch {
			case rc.Failure != nil:
				fmt.Fprintf(w, "           resumption: second connection failed: %s\n", rc.Failure.String())
			case rc.Resumed:
				fmt.Fprintf(w, "           resumption: yes (handshake %d B sent / %d B received)\n", rc.HandshakeBytesSent, rc.HandshakeBytesReceived)
			default:
				fmt.Fprintf(w, "           resumption: no (second connection ran a full handshake)\n")
			}
		}
	}
	if len(r.Chain) > 0 {
		fmt.Fprintf(w, "\nCertificate chain as sent (%d B in %d certificate(s))\n", r.ChainBytes, len(r.Chain))
		for i, c := range r.Chain {
			fmt.Fprintf(w, "  %d  %5d B  %-16s %s (issuer %s, until %s)\n", i, c.Bytes, c.Key, c.Subject, c.Issuer, c.NotAfter.Format("2006-01-02"))
		}
	}
	printAnchors(w, r)
	if cc := r.CertCompression; cc != nil {
		fmt.Fprintf(w, "\nCertificate compression (RFC 8879, TLS 1.3): %s\n", cc.Algorithm)
		if cc.Algorithm != "none" && cc.HandshakeBytesUncompressed > 0 {
			fmt.Fprintf(w, "  the server's handshake: %d B compressed, %d B with compression not offered\n",
				cc.HandshakeBytesReceived, cc.HandshakeBytesUncompressed)
		}
	}
	if len(r.Cases) > 0 {
		fmt.Fprintf(w, "\nRecord-size extensions (each row one connection; bound = largest record that respects the limit)\n")
		fmt.Fprintf(w, "  %-8s %-20s %5s  %-10s %7s %8s %6s  %s\n", "version", "extension", "limit", "result", "answer", "largest", "bound", "")
		for _, c := range r.Cases {
			answer, largest, bound := "-", "-", "-"
			if c.AgreedValue != 0 {
				answer = fmt.Sprint(c.AgreedValue)
			}
			if c.Result != probe.ResultSkipped && c.Result != probe.ResultFailed && c.Result != probe.ResultBadAnswer {
				largest, bound = fmt.Sprint(c.LargestReceived), fmt.Sprint(c.Bound)
			}
			note := ""
			switch {
			case c.Result == probe.ResultViolated:
				note = fmt.Sprintf("agreed, then a %d B %s record", c.LargestReceived, c.ViolatingType)
			case c.Failure != nil:
				note = c.Failure.String()
			case c.Error != "":
				note = c.Error
			case c.Result == probe.ResultAgreed && c.Extension == probe.ExtRecordSizeLimit && c.LargestPlaintext > c.Limit:
				note = fmt.Sprintf("kept; a %d B plaintext handshake record (RFC 8449 allows it, a modem fails on it)", c.LargestPlaintext)
			case c.Result == probe.ResultIgnored && c.LargestReceived > c.Bound:
				note = "records too big for this limit"
			case c.Result == probe.ResultIgnored:
				note = "records fitted"
			}
			fmt.Fprintf(w, "  %-8s %-20s %5d  %-10s %7s %8s %6s  %s\n", c.Version, c.Extension, c.Limit, c.Result, answer, largest, bound, note)
		}
	}
	printRange(w, r.Path, r.Range, r.RangeError)
	fmt.Fprintf(w, "\nVerdict for a device limited to %d-byte records: %s\n", r.DeviceLimit, r.Verdict.Summary)
	if r.Verdict.Recommend != "" {
		fmt.Fprintf(w, "  -> %s\n", r.Verdict.Recommend)
	}
	for _, d := range r.Verdict.Details {
		fmt.Fprintf(w, "  %s\n", d)
	}
	if len(r.Verdict.Remedies) > 0 {
		fmt.Fprintf(w, "\nWithout changing the server\n")
		for i, m := range r.Verdict.Remedies {
			fmt.Fprintf(w, "  %d. %s\n", i+1, m.Text)
		}
	}
}

// printRange prints a Range measurement (probe's, and get's sizing).
func printRange(w io.Writer, path string, rr *probe.RangeResult, rerr string) {
	switch {
	case rr != nil && rerr == "":
		fmt.Fprintf(w, "\nRange chunk for a device that keeps its own TLS: %d B (tlsapp get --range-chunk %d --device-limit %d)\n", rr.Chunk, rr.Chunk, rr.DeviceLimit)
		seen := fmt.Sprintf("all %d B of it", rr.Size)
		if u := rr.UnknownBeyond(); u >= 0 {
			seen = fmt.Sprintf("%d of its %d B, and the last chunk; unknown beyond %d B", rr.Observed, rr.Size, u)
		}
		fmt.Fprintf(w, "  measured as the device downloads %s: %d request(s) in sequence on %d kept-alive connection(s), %s\n",
			path, rr.Requests, rr.Connections, seen)
		fmt.Fprintf(w, "  every record within %d B (%s, %s; largest %d B); answers' headers up to %d B\n",
			rr.Bound, rr.Version, rr.Suite, rr.LargestRecord, rr.HeaderBytes)
		for _, t := range rr.Steps {
			fit := "fits"
			if !t.Fits {
				fit = "FAILS: " + t.Note
			} else if t.Note != "" {
				fit += " (" + t.Note + ")"
			}
			fmt.Fprintf(w, "  from byte %7d: chunk %5d, %3d request(s), largest record %5d B, %s\n", t.Offset, t.Chunk, t.Requests, t.Largest, fit)
		}
	case rerr != "":
		fmt.Fprintf(w, "\nRange chunk for a device that keeps its own TLS: none (%s)\n", rerr)
	}
}

func printAnchors(w io.Writer, r *probeReport) {
	var lines []string
	for _, v := range r.Versions {
		if v.Failure == nil && !r.Insecure {
			for _, a := range v.VerifiedBy {
				lines = append(lines, "  verified by "+a)
			}
			break
		}
	}
	// A bundle file holds many anchors: name those that verify and count
	// the rest.
	perSource := map[string]int{}
	for _, a := range r.Anchors {
		perSource[a.Source]++
	}
	failed := map[string]int{}
	var sources []string
	for _, a := range r.Anchors {
		switch {
		case a.Verifies:
			lines = append(lines, fmt.Sprintf("  ok    %s: %s", a.Source, a.Subject))
		case perSource[a.Source] <= 3:
			lines = append(lines, fmt.Sprintf("  no    %s: %s: %s", a.Source, a.Subject, a.Error))
		default:
			if failed[a.Source] == 0 {
				sources = append(sources, a.Source)
			}
			failed[a.Source]++
		}
	}
	for _, src := range sources {
		lines = append(lines, fmt.Sprintf("  no    %s: %d other anchor(s) do not verify the chain (--json lists them)", src, failed[src]))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nTrust anchors\n%s\n", strings.Join(lines, "\n"))
}

// typeSizes prints a content type -> largest record map in a fixed order.
func typeSizes(m map[string]int) string {
	var parts []string
	for _, k := range []string{"handshake", "change_cipher_spec", "alert", "application_data"} {
		if n, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func intList(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " ")
}
