package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The servers of BenchmarkServerIdle and BenchmarkServerCPU, in the order of
// their tables.
const nginxName = "nginx"

var serverOrder = []string{stdName, nginxName, tlsappName}

// serverPoint is a TLS version and, for the idle benchmark, a connection
// count ("conns=1000"), as the benchmarks name them.
type serverPoint struct{ version, conns string }

// serverPoints lists the points of prefix ("ServerIdle/" or "ServerCPU/")
// in the order the run produced them.
func serverPoints(r *Results, prefix string) []serverPoint {
	var ps []serverPoint
	for _, n := range r.Names {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok {
			continue
		}
		f := strings.Split(rest, "/")
		var p serverPoint
		switch {
		case len(f) >= 3 && strings.HasPrefix(f[1], "conns="):
			p = serverPoint{f[0], f[1]}
		case len(f) == 1:
			p = serverPoint{version: f[0]}
		default:
			continue
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// name is the idle benchmark of server at p.
func (p serverPoint) name(prefix, server string) string {
	return strings.Join([]string{strings.TrimSuffix(prefix, "/"), p.version, p.conns, "server=" + server}, "/")
}

// cpuName is the CPU benchmark at p, which measures every server.
func (p serverPoint) cpuName() string { return "ServerCPU/" + p.version }

func (p serverPoint) label() string {
	v := strings.Replace(strings.Replace(p.version, "tls1", "TLS 1.", 1), "-cbc", " AES-128-CBC-SHA", 1)
	if p.conns == "" {
		return v
	}
	return v + ", " + num(atof(strings.TrimPrefix(p.conns, "conns="))) + " connections"
}

func atof(s string) float64 {
	var v float64
	fmt.Sscan(s, &v)
	return v
}

// spread formats the median of name's unit, and its range when the samples
// differ, with f.
func spread(r *Results, name, unit string, f func(float64) string) (string, bool) {
	vs := r.Values(name, unit)
	if len(vs) == 0 {
		return dash, false
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	s := f(median(vs))
	if f(lo) != f(hi) {
		s += fmt.Sprintf(" (%s–%s)", f(lo), f(hi))
	}
	return s, true
}

// writeServerCost writes the server-cost section (BenchmarkServerIdle,
// BenchmarkServerCPU).
func writeServerCost(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Server cost at fleet scale\n\n")
	fmt.Fprintf(w, "An HTTPS file server in a process of its own, pinned to one CPU, measured from outside (BenchmarkServerIdle, BenchmarkServerCPU; "+
		"`-fleet` adds 5,000 connections): Go's net/http on `tls.NewListener` (crypto/tls, 16 KiB records), the same server on "+
		"`tlsapp.NewListener` with MaxRecord 2048 (tlsapp), and nginx with `ssl_buffer_size 2k` (nginx). The clients are crypto/tls "+
		"in the benchmark's process and ask for nothing.\n\n")
	fmt.Fprintf(w, "### Idle connections\n\n")
	fmt.Fprintf(w, "N connections handshake, download a 256 KiB file each at once, and stay open. Per connection, less the server before them: "+
		"heap after two GCs (Go servers), RSS, RSS after `debug.FreeOSMemory` (nginx: its RSS), and peak RSS (VmHWM); the servers run one "+
		"after the other, and the ratios are of the medians.\n\n")
	t := table{header: []string{"TLS, connections", "server", "heap", "heap − crypto/tls", "RSS", "RSS freed", "RSS freed ÷ nginx", "peak RSS"}, text: 2}
	for _, p := range serverPoints(r, "ServerIdle/") {
		std, _ := r.Get(p.name("ServerIdle/", stdName), "heap-B/conn")
		ng, haveNginx := r.Get(p.name("ServerIdle/", nginxName), "rss-B/conn")
		for _, s := range serverOrder {
			n := p.name("ServerIdle/", s)
			if r.Count(n) == 0 {
				continue
			}
			heap, over := dash, dash
			if h, ok := r.Get(n, "heap-B/conn"); ok {
				heap = kib(h)
				if s != stdName && std > 0 {
					over = fmt.Sprintf("%+.1f KiB", (h-std)/1024)
				}
			}
			rss, _ := spread(r, n, "rss-B/conn", kib)
			freed, _ := r.Get(n, "rss-freed-B/conn")
			peak, _ := r.Get(n, "peak-rss-B/conn")
			vsNginx := dash
			if haveNginx && ng > 0 {
				vsNginx = ratio(freed / ng)
			}
			t.add(p.label(), s, heap, over, rss, kib(freed), vsNginx, kib(peak))
		}
	}
	t.write(w)
	fmt.Fprintf(w, "### CPU per GiB served\n\n")
	fmt.Fprintf(w, "The three servers run at once on the same CPU and serve in turn, 256 MiB at a time, in an order that rotates, until each "+
		"has served 2 GiB: four clients fetch a 64 MiB file at once, each on a connection of its own, and read the records off the socket "+
		"without decrypting them, so that the server is the bottleneck. CPU is each server process's user and system time "+
		"(/proc/PID/stat) per GiB. The suite is AES-128-GCM unless the row names one (ECDHE-ECDSA-AES128-SHA: the CBC suite every "+
		"nRF91 firmware offers). Each sample measures all three alike; the ratios are the median (range) of each sample's own ratio.\n\n")
	t = table{header: []string{"TLS", "server", "CPU s/GiB", "÷ crypto/tls", "÷ nginx", "MB/s"}, text: 2}
	two := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	x := func(v float64) string { return ratio(v) }
	for _, p := range serverPoints(r, "ServerCPU/") {
		n := p.cpuName()
		for _, s := range serverOrder {
			cell, ok := spread(r, n, s+"-cpu-s/GiB", two)
			if !ok {
				continue
			}
			vsStd, vsNginx := dash, dash
			switch s {
			case stdName:
				vsStd = ratio(1)
			case nginxName:
				vsStd, _ = spread(r, n, "nginx-cpu-ratio-vs-crypto/tls", x)
				vsNginx = ratio(1)
			case tlsappName:
				vsStd, _ = spread(r, n, "tlsapp-cpu-ratio-vs-crypto/tls", x)
				vsNginx, _ = spread(r, n, "tlsapp-cpu-ratio-vs-nginx", x)
			}
			mbps, _ := r.Get(n, s+"-MB/s")
			t.add(p.label(), s, cell, vsStd, vsNginx, num(mbps))
		}
	}
	t.write(w)
}

// The server-cost targets.
const (
	serverCPUBound   = 1.2    // × crypto/tls's CPU per GiB
	serverHeapBound  = 2048.0 // bytes over crypto/tls's heap per idle connection
	serverNginxBound = 1.5    // × nginx's RSS per idle connection
)

// serverTargets judges tlsapp's server against crypto/tls and nginx.
func serverTargets(r *Results) []Verdict {
	cpuStd := Verdict{Target: fmt.Sprintf("server CPU per GiB served ≤ %.1f× crypto/tls's (every TLS version; the median of each sample's ratio)", serverCPUBound),
		Bound: serverCPUBound}
	cpuNginx := Verdict{Target: "server CPU per GiB served ≤ nginx's (every TLS version; the median of each sample's ratio)", Bound: 1}
	for _, p := range serverPoints(r, "ServerCPU/") {
		n := p.cpuName()
		app, _ := r.Get(n, "tlsapp-cpu-s/GiB")
		if x, ok := r.Get(n, "tlsapp-cpu-ratio-vs-crypto/tls"); ok {
			std, _ := r.Get(n, "crypto/tls-cpu-s/GiB")
			judge(&cpuStd, x, fmt.Sprintf("%s: %s (tlsapp %.2f s/GiB, crypto/tls %.2f s/GiB)", p.label(), ratio(x), app, std))
		}
		if x, ok := r.Get(n, "tlsapp-cpu-ratio-vs-nginx"); ok {
			ng, _ := r.Get(n, "nginx-cpu-s/GiB")
			judge(&cpuNginx, x, fmt.Sprintf("%s: %s (tlsapp %.2f s/GiB, nginx %.2f s/GiB)", p.label(), ratio(x), app, ng))
		}
	}
	heap := Verdict{Target: "server heap per idle connection ≤ crypto/tls's + 2 KiB (every TLS version and connection count)", Bound: serverHeapBound, Unit: "B"}
	rss := Verdict{Target: fmt.Sprintf("server RSS per idle connection, after debug.FreeOSMemory, ≤ %.1f× nginx's (every TLS version and connection count)", serverNginxBound),
		Bound: serverNginxBound}
	var stdRSS []string
	for _, p := range serverPoints(r, "ServerIdle/") {
		app, ok := r.Get(p.name("ServerIdle/", tlsappName), "heap-B/conn")
		if !ok {
			continue
		}
		if std, ok := r.Get(p.name("ServerIdle/", stdName), "heap-B/conn"); ok {
			judge(&heap, app-std, fmt.Sprintf("%s: %+.0f B (tlsapp %s, crypto/tls %s)", p.label(), app-std, kib(app), kib(std)))
		}
		ng, ok := r.Get(p.name("ServerIdle/", nginxName), "rss-B/conn")
		if !ok || ng <= 0 {
			continue
		}
		freed, _ := r.Get(p.name("ServerIdle/", tlsappName), "rss-freed-B/conn")
		now, _ := r.Get(p.name("ServerIdle/", tlsappName), "rss-B/conn")
		judge(&rss, freed/ng, fmt.Sprintf("%s: %s (tlsapp %s, %s before FreeOSMemory; nginx %s)", p.label(), ratio(freed/ng), kib(freed), kib(now), kib(ng)))
		if std, ok := r.Get(p.name("ServerIdle/", stdName), "rss-freed-B/conn"); ok {
			stdRSS = append(stdRSS, fmt.Sprintf("%s %s", p.label(), ratio(std/ng)))
		}
	}
	if len(stdRSS) > 0 {
		rss.Note = "crypto/tls itself: " + strings.Join(stdRSS, ", ")
	}
	return []Verdict{cpuStd, cpuNginx, heap, rss}
}

// judge adds a point to v, whose Value is the worst (largest) so far.
func judge(v *Verdict, x float64, figure string) {
	if v.Status == NotMeasured {
		v.Value = math.Inf(-1)
	}
	v.Value = math.Max(v.Value, x)
	v.Figures = append(v.Figures, figure)
	v.Status = Met
	if v.Value > v.Bound {
		v.Status = Missed
	}
}
