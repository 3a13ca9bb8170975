package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// The edge benchmark's servers, in the order of its table, and what each is.
var edgeServers = []struct{ name, label string }{
	{"edge", "tlsapp edge (origin asked on every request)"},
	{"edge-maxage", "tlsapp edge, cache-only within max-age"},
	{"nginx", "nginx proxy_cache, ssl_buffer_size 2k"},
	{"crypto-tls", "Go crypto/tls file server (baseline, 16 KiB records)"},
}

// edgeDevices lists the devices=N values of the run, in order.
func edgeDevices(r *Results) []string {
	var ns []string
	seen := map[string]bool{}
	for _, n := range r.Names {
		rest, ok := strings.CutPrefix(n, "Edge/devices=")
		if !ok {
			continue
		}
		d, _, _ := strings.Cut(rest, "/")
		if !seen[d] {
			seen[d] = true
			ns = append(ns, d)
		}
	}
	return ns
}

// writeEdge writes the edge section (BenchmarkEdge).
func writeEdge(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Serving modems through an edge\n\n")
	fmt.Fprintf(w, "N devices at once, each downloading a 1 MiB image that the server has cached, over a fresh TLS 1.2 connection "+
		"as the modem stand-in makes it (`tlsapp.ModemConfig`: the modem's ECDHE AES-CBC suites, no record-size extension), "+
		"from each server in turn (BenchmarkEdge, `-edge`); every server is a process of its own with the same 3.6 KB RSA 4096 chain. "+
		"CPU is the server processes' user and system time per GiB served; RSS is the growth of their resident set during the run "+
		"(peak less before) over N; the largest record is the longest any device received, handshake included; "+
		"\"the stand-in\" is one download by the real stand-in (2303 B limit) through a relay that parses the server's records. "+
		"Ratios are to the crypto/tls baseline of the same N in the same run. The devices run on the same machine: the time includes their CPU.\n\n")
	for _, n := range edgeDevices(r) {
		fmt.Fprintf(w, "### %s devices\n\n", n)
		t := table{header: []string{"server", "the stand-in", "total time", "CPU s/GiB", "× crypto/tls CPU", "RSS per device", "largest record"}, text: 2}
		base, _ := r.Get("Edge/devices="+n+"/server=crypto-tls", "cpu-s/GiB")
		for _, s := range edgeServers {
			name := "Edge/devices=" + n + "/server=" + s.name
			ns, ok := r.Get(name, "ns/op")
			if !ok {
				continue
			}
			cpu, _ := r.Get(name, "cpu-s/GiB")
			rss, _ := r.Get(name, "rss-KiB/conn")
			largest, _ := r.Get(name, "largest-B")
			wire, _ := r.Get(name, "wire-largest-B")
			ok1, _ := r.Get(name, "modem-ok")
			modem := fmt.Sprintf("works, largest %s B", num(wire))
			if ok1 == 0 {
				modem = fmt.Sprintf("fails (EMSGSIZE): a %s B record", num(wire))
			}
			t.add(s.label, modem, fmt.Sprintf("%.2f s", ns/1e9), fmt.Sprintf("%.2f", cpu), ratioOr(cpu, base, base > 0),
				fmt.Sprintf("%.1f KiB", rss), num(largest)+" B")
		}
		t.write(w)
	}
}

// Targets of the edge (issue 16): CPU per GiB at most edgeCPUBound times
// plain crypto/tls's and at most nginx's.
const edgeCPUBound = 1.2

// edgeTargets judges the edge's records and CPU in every BenchmarkEdge run.
func edgeTargets(r *Results) []Verdict {
	rec := Verdict{Target: "edge: every record within the cap, handshake included (the stand-in's download works)", Bound: 1}
	cpu := Verdict{Target: fmt.Sprintf("edge: CPU per GiB ≤ %.1f× plain crypto/tls's and ≤ nginx's", edgeCPUBound), Bound: edgeCPUBound}
	worstCPU := math.Inf(-1)
	recOK := true
	for _, n := range edgeDevices(r) {
		p := "Edge/devices=" + n + "/server="
		for _, s := range []string{"edge", "edge-maxage"} {
			if ok, found := r.Get(p+s, "modem-ok"); found {
				wire, _ := r.Get(p+s, "wire-largest-B")
				rec.Figures = append(rec.Figures, fmt.Sprintf("%s devices, %s: largest record %s B", n, s, num(wire)))
				recOK = recOK && ok == 1
			}
			e, ok1 := r.Get(p+s, "cpu-s/GiB")
			base, ok2 := r.Get(p+"crypto-tls", "cpu-s/GiB")
			ng, ok3 := r.Get(p+"nginx", "cpu-s/GiB")
			if ok1 && ok2 && ok3 && base > 0 && ng > 0 {
				x := math.Max(e/base, e/ng*edgeCPUBound)
				worstCPU = math.Max(worstCPU, x)
				cpu.Figures = append(cpu.Figures, fmt.Sprintf("%s devices, %s: %s crypto/tls, %s nginx", n, s, ratio(e/base), ratio(e/ng)))
			}
		}
	}
	if len(rec.Figures) == 0 {
		rec.Note, cpu.Note = "run the benchmarks with -edge", "run the benchmarks with -edge"
		return []Verdict{rec, cpu}
	}
	rec.Status, rec.Value = Met, 1
	if !recOK {
		rec.Status, rec.Value = Missed, 0
	}
	if len(cpu.Figures) > 0 {
		cpu.Value, cpu.Status = worstCPU, Met
		if worstCPU > edgeCPUBound {
			cpu.Status = Missed
		}
		cpu.Note = "the value is the worse of the ratio to crypto/tls and 1.2 × the ratio to nginx"
	}
	return []Verdict{rec, cpu}
}
