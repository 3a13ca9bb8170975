package main

import (
	"fmt"
	"math"
	"strings"
)

// The clients as the benchmarks of ./bench name them.
const (
	stdName    = "crypto/tls"
	utlsName   = "utls"
	tlsappName = "tlsapp"
	noLimit    = "limit=none"
	limit2048  = "limit=2048"
)

// Status is whether a run met a target.
type Status int

// The outcomes of a target.
const (
	NotMeasured Status = iota // the run has not the figures the target needs
	Met
	Missed
)

func (s Status) String() string {
	switch s {
	case Met:
		return "met"
	case Missed:
		return "missed"
	}
	return "not measured"
}

// Verdict is one target checked against a run.
type Verdict struct {
	// Target states the target.
	Target string
	Status Status
	// Value is the deciding figure: the worst point measured.
	Value float64
	// Bound is the target's bound for Value.
	Bound float64
	// Unit, when set, says Value and Bound are amounts in it (an
	// allowance over a baseline), not ratios.
	Unit string
	// Figures are the numbers behind the verdict, one line per point.
	Figures []string
	// Note adds context that does not change the verdict.
	Note string
}

// pair is a TLS version and a cipher suite as the benchmark names them.
type pair struct{ version, suite string }

// transferPairs lists the version and suite pairs of dir ("Download" or
// "Upload") in the order the run produced them.
func transferPairs(r *Results, dir string) []pair {
	var ps []pair
	seen := map[pair]bool{}
	for _, n := range r.Names {
		f := strings.SplitN(n, "/", 5)
		if len(f) == 5 && f[0] == dir {
			p := pair{f[1], f[2]}
			if !seen[p] {
				seen[p] = true
				ps = append(ps, p)
			}
		}
	}
	return ps
}

func transferName(dir string, p pair, limit, client string) string {
	return strings.Join([]string{dir, p.version, p.suite, limit, client}, "/")
}

// transferRatio is the median MB/s of client at limit over that of
// crypto/tls with 16 KiB records, same direction, version and suite.
func transferRatio(r *Results, dir string, p pair, limit, client string) (ratio, v, base float64, ok bool) {
	v, ok1 := r.Get(transferName(dir, p, limit, client), "MB/s")
	base, ok2 := r.Get(transferName(dir, p, noLimit, stdName), "MB/s")
	if !ok1 || !ok2 || base == 0 {
		return 0, v, base, false
	}
	return v / base, v, base, true
}

// Evaluate checks the run against each target of the issue, in the
// issue's order.
func Evaluate(r *Results) []Verdict {
	vs := []Verdict{
		throughputTarget(r, "Download", "download"),
		throughputTarget(r, "Upload", "upload"),
		heapTarget(r),
		allocTarget(r),
		sizeTarget(r),
	}
	if hasPrefix(r, "Link/") {
		vs = append(vs, linkTarget(r)) // only runs with BenchmarkLink
	}
	if hasPrefix(r, "Edge/") {
		vs = append(vs, edgeTargets(r)...) // only runs with BenchmarkEdge
	}
	if hasPrefix(r, "ServerIdle/") || hasPrefix(r, "ServerCPU/") {
		vs = append(vs, serverTargets(r)...) // only runs with the server-cost benchmarks
	}
	return vs
}

const (
	throughputBound = 0.85
	heapBound       = 0.5
	sizeBound       = 1.10
)

func throughputTarget(r *Results, dir, what string) Verdict {
	v := Verdict{
		Target: fmt.Sprintf("%s at a 2048-byte limit ≥ %.2f× crypto/tls with 16 KiB records (every TLS version and suite with a crypto/tls baseline)", what, throughputBound),
		Bound:  throughputBound,
		Value:  math.Inf(1),
	}
	var noBase []string
	for _, p := range transferPairs(r, dir) {
		ratio, mbps, base, ok := transferRatio(r, dir, p, limit2048, tlsappName)
		if !ok {
			if _, has := r.Get(transferName(dir, p, limit2048, tlsappName), "MB/s"); has {
				noBase = append(noBase, pairLabel(p))
			}
			continue
		}
		mark := "meets"
		if ratio < throughputBound {
			mark = "misses"
		}
		line := fmt.Sprintf("%s: %.3f× (tlsapp %.0f MB/s, crypto/tls 16 KiB %.0f MB/s) %s", pairLabel(p), ratio, mbps, base, mark)
		if std, ok := r.Get(transferName(dir, p, limit2048, stdName), "MB/s"); ok {
			line += fmt.Sprintf("; crypto/tls itself at 2048: %.3f×", std/base)
		}
		v.Figures = append(v.Figures, line)
		v.Value = math.Min(v.Value, ratio)
	}
	if len(v.Figures) == 0 {
		v.Value = 0
		return v
	}
	v.Status = Met
	if v.Value < throughputBound {
		v.Status = Missed
	}
	if len(noBase) > 0 {
		v.Note = fmt.Sprintf("no crypto/tls baseline for %s (crypto/tls cannot be made to pick that suite); not counted", strings.Join(noBase, ", "))
	}
	return v
}

func memName(limit, client string) string { return "ConnMemory/" + limit + "/" + client }

func heapTarget(r *Results) Verdict {
	v := Verdict{
		Target: fmt.Sprintf("heap retained per idle connection at a 2048-byte limit ≤ %.1f× crypto/tls (crypto/tls with its 16 KiB records)", heapBound),
		Bound:  heapBound,
	}
	app, ok1 := r.Get(memName(limit2048, tlsappName), "retained-B/conn")
	base, ok2 := r.Get(memName(noLimit, stdName), "retained-B/conn")
	if !ok1 || !ok2 || base <= 0 {
		return v
	}
	v.Value = app / base
	v.Status = Met
	if v.Value > heapBound {
		v.Status = Missed
	}
	v.Figures = append(v.Figures, fmt.Sprintf("tlsapp at 2048: %.0f B/conn, crypto/tls 16 KiB: %.0f B/conn: %.3f×", app, base, v.Value))
	if same, ok := r.Get(memName(limit2048, stdName), "retained-B/conn"); ok && same > 0 {
		verdict := "would be met"
		if app/same > heapBound {
			verdict = "would be missed"
		}
		v.Note = fmt.Sprintf("against crypto/tls talking to a server that also caps its records at 2048 (%.0f B/conn) the ratio is %.3f×: that stricter reading %s", same, app/same, verdict)
	}
	return v
}

// steadyPoint is one SteadyState benchmark without its client.
type steadyPoint string

func steadyPoints(r *Results) []steadyPoint {
	var ps []steadyPoint
	seen := map[steadyPoint]bool{}
	for _, n := range r.Names {
		if !strings.HasPrefix(n, "SteadyState/") {
			continue
		}
		i := strings.Index(n, "/limit=")
		if i < 0 {
			continue
		}
		j := strings.IndexByte(n[i+1:], '/')
		if j < 0 {
			continue
		}
		p := steadyPoint(n[:i+1+j])
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	return ps
}

// writeCalls is how many times tlsapp calls utls's Write for one Write of
// the point: once per record when the write is above the limit (utls cannot
// be told a record size, so tlsapp splits the data), once otherwise.
func (p steadyPoint) writeCalls() int {
	var size, limit int
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(p), "SteadyState/write/"), "%dKiB/limit=%d", &size, &limit); err != nil || limit <= 0 {
		return 1
	}
	return max(1, (size<<10+limit-1)/limit)
}

func (p steadyPoint) name(client string) string { return string(p) + "/" + client }

func (p steadyPoint) label() string {
	return strings.ReplaceAll(strings.TrimPrefix(string(p), "SteadyState/"), "/", " ")
}

func allocTarget(r *Results) Verdict {
	v := Verdict{
		Target: "0 allocs/op in the library's own layers in steady state (tlsapp's allocs/op less what utls allocates for the same work: " +
			"its allocs per Write call times the Write calls tlsapp makes, one per record, for writes above the limit; its allocs/op otherwise)",
		Value: math.Inf(-1),
	}
	var worst []string
	for _, p := range steadyPoints(r) {
		app, ok1 := r.Get(p.name(tlsappName), "allocs/op")
		base, ok2 := r.Get(p.name(utlsName), "allocs/op")
		if !ok1 || !ok2 {
			continue
		}
		calls := p.writeCalls()
		stack := base * float64(calls)
		extra := app - stack
		v.Value = math.Max(v.Value, extra)
		share := fmt.Sprintf("utls %g", base)
		if calls > 1 {
			share = fmt.Sprintf("utls %g per Write × %d records = %g", base, calls, stack)
		}
		if extra > 0 {
			worst = append(worst, fmt.Sprintf("%s: +%g (tlsapp %g, %s)", p.label(), extra, app, share))
		}
		v.Figures = append(v.Figures, fmt.Sprintf("%s: tlsapp %g, %s allocs/op", p.label(), app, share))
	}
	if len(v.Figures) == 0 {
		v.Value = 0
		return v
	}
	v.Status = Met
	if v.Value > 0 {
		v.Status = Missed
		v.Figures = worst
	} else {
		v.Figures = []string{fmt.Sprintf("tlsapp allocates no more than utls at any of %d points", len(v.Figures))}
	}
	return v
}

func sizeTargets(r *Results) []string {
	var ts []string
	seen := map[string]bool{}
	for _, n := range r.Names {
		f := strings.SplitN(n, "/", 3)
		if len(f) == 3 && f[0] == "BinarySize" && !seen[f[1]] {
			seen[f[1]] = true
			ts = append(ts, f[1])
		}
	}
	return ts
}

func sizeName(target, program string) string { return "BinarySize/" + target + "/" + program }

// wantSizeTargets are the platforms the issue asks for, as BinarySize
// names them.
var wantSizeTargets = []string{"linux-amd64", "linux-arm-v7", "linux-arm64"}

func sizeTarget(r *Results) Verdict {
	v := Verdict{
		Target: fmt.Sprintf("minimal client binary ≤ %.2f× the utls-only client (stripped, every platform measured)", sizeBound),
		Bound:  sizeBound,
		Value:  math.Inf(-1),
	}
	measured := map[string]bool{}
	for _, t := range sizeTargets(r) {
		app, ok1 := r.Get(sizeName(t, tlsappName), "bytes")
		base, ok2 := r.Get(sizeName(t, utlsName), "bytes")
		if !ok1 || !ok2 || base <= 0 {
			continue
		}
		measured[t] = true
		ratio := app / base
		v.Value = math.Max(v.Value, ratio)
		v.Figures = append(v.Figures, fmt.Sprintf("%s: %.3f× (tlsapp %.0f B, utls %.0f B)", t, ratio, app, base))
	}
	if len(v.Figures) == 0 {
		v.Value = 0
		return v
	}
	v.Status = Met
	if v.Value > sizeBound {
		v.Status = Missed
	}
	var missing []string
	for _, t := range wantSizeTargets {
		if !measured[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		v.Note = "not measured for " + strings.Join(missing, ", ") + " (run with -size.targets all)"
	}
	return v
}

// Labels for the names the benchmarks use.
var labels = map[string]string{
	"tls12": "TLS 1.2", "tls13": "TLS 1.3",
	"aes128": "AES-128-GCM", "chacha20": "ChaCha20-Poly1305",
}

func label(s string) string {
	if l, ok := labels[s]; ok {
		return l
	}
	return s
}

func pairLabel(p pair) string { return label(p.version) + " " + label(p.suite) }
