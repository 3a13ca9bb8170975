package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// The link benchmark's methods, in the order of its table, and what each is.
var linkMethods = []struct{ name, label string }{
	{"16k", "16 KiB records, one request (baseline)"},
	{"rsl2048", "record_size_limit 2048, one request"},
	{"mfl2048", "max_fragment_length 2048, one request"},
	{"range2048", "Range 2048, nothing offered"},
	{"range1792", "Range 1792, nothing offered"},
	{"range1024", "Range 1024, nothing offered"},
}

// linkProfiles lists the link=NAME values of the run, in order.
func linkProfiles(r *Results) []string {
	var ps []string
	seen := map[string]bool{}
	for _, n := range r.Names {
		rest, ok := strings.CutPrefix(n, "Link/link=")
		if !ok {
			continue
		}
		p, _, _ := strings.Cut(rest, "/")
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

var linkTitles = map[string]string{
	"lte-m":  "LTE-M-like link: 100 ms RTT, 1 Mbit/s each way, 1 MiB image",
	"nb-iot": "NB-IoT-like link: 1.2 s RTT, 60 kbit/s each way, 64 KiB image",
	"smoke":  "loopback smoke profile: 2 ms RTT, 50 Mbit/s, 64 KiB image (run with -link for the cellular links)",
}

// writeLink writes the emulated cellular link section (BenchmarkLink).
func writeLink(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Download over an emulated cellular link\n\n")
	fmt.Fprintf(w, "An image downloaded through a relay on 127.0.0.1 that gives each direction a rate and a one-way delay "+
		"(BenchmarkLink, `-link`), from Go's net/http behind `tlsapp.NewListener`, which keeps its records within what the client offers. "+
		"Time is from the dial to the last byte, handshake included; bytes are the TCP payload both ways; the largest record is "+
		"the longest server record the relay parsed. Ratios are to the 16 KiB-record download of the same run. "+
		"The Range rows offer no extension (a modem that keeps its own TLS) and fetch the image in Range requests on one keep-alive connection.\n\n")
	for _, p := range linkProfiles(r) {
		title := linkTitles[p]
		if title == "" {
			title = p
		}
		fmt.Fprintf(w, "### %s\n\n", title)
		t := table{header: []string{"method", "time", "× time", "bytes on the wire", "× bytes", "requests", "largest record"}, text: 1}
		for _, m := range linkMethods {
			name := "Link/link=" + p + "/method=" + m.name
			ns, ok := r.Get(name, "ns/op")
			if !ok {
				continue
			}
			xt, _ := r.Get(name, "x-time")
			wire, _ := r.Get(name, "wire-B/op")
			xb, _ := r.Get(name, "x-bytes")
			req, _ := r.Get(name, "requests/op")
			lr, _ := r.Get(name, "largest-B")
			t.add(m.label, fmt.Sprintf("%.2f s", ns/1e9), ratio(xt), fmt.Sprintf("%.0f kB", wire/1000), ratio(xb), num(req), num(lr)+" B")
		}
		t.write(w)
	}
}

// linkBound is the target for a negotiated limit over the link.
const linkBound = 1.02

// linkTarget checks that a negotiated 2048-byte limit costs at most
// linkBound times the time of 16 KiB records on every cellular link run.
func linkTarget(r *Results) Verdict {
	v := Verdict{
		Target: fmt.Sprintf("download over an emulated cellular link with record_size_limit or max_fragment_length 2048 ≤ %.2f× the time of 16 KiB records", linkBound),
		Bound:  linkBound,
	}
	worst := math.Inf(-1)
	for _, p := range linkProfiles(r) {
		if p == "smoke" {
			continue
		}
		for _, m := range []string{"rsl2048", "mfl2048"} {
			x, ok := r.Get("Link/link="+p+"/method="+m, "x-time")
			if !ok {
				continue
			}
			v.Figures = append(v.Figures, fmt.Sprintf("%s %s: %s", p, m, ratio(x)))
			worst = math.Max(worst, x)
		}
	}
	if len(v.Figures) == 0 {
		v.Note = "run the benchmarks with -link"
		return v
	}
	v.Value = worst
	v.Status = Met
	if worst > linkBound {
		v.Status = Missed
	}
	return v
}
