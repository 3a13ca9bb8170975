package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Meta describes how and where the run was made.
type Meta struct {
	Date      string
	GoVersion string
	NumCPU    int
	Command   string   // the report command
	Runs      []string // the go test commands it ran
	Rendered  string   // the command that wrote the report from saved output, if not Command
}

// limitOrder is the order of the limit columns; "none" is 16 KiB records.
var limitOrder = []string{"limit=512", "limit=1024", "limit=2048", "limit=4096", noLimit}

func limitLabel(l string) string {
	if l == noLimit {
		return "none (16 KiB)"
	}
	return strings.TrimPrefix(l, "limit=")
}

// clientOrder is the order of the client rows and columns.
var clientOrder = []string{stdName, utlsName, "utls-golang", tlsappName, "tlsapp-nocomp"}

// table is a Markdown table: the first text columns left-aligned, the
// figures right-aligned.
type table struct {
	header []string
	text   int
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	if len(t.rows) == 0 {
		fmt.Fprintf(w, "_(not measured in this run)_\n\n")
		return
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.header, " | "))
	seps := make([]string, len(t.header))
	for i := range seps {
		seps[i] = "---"
		if i >= max(t.text, 1) {
			seps[i] = "--:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
}

const dash = "—"

func ratio(x float64) string { return fmt.Sprintf("%.2f×", x) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

// num formats v with thousands separators.
func num(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// WriteMarkdown writes BENCHMARKS.md for the run r.
func WriteMarkdown(w io.Writer, r *Results, m Meta, verdicts []Verdict, checks []string) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `go run ./bench/report` from one run of the benchmarks of [`./bench`](bench/doc.go); do not edit by hand.\n\n")
	t := table{header: []string{"", ""}, text: 2}
	t.add("date", m.Date)
	t.add("Go", m.GoVersion)
	t.add("GOOS/GOARCH", r.Header["goos"]+"/"+r.Header["goarch"])
	cpu := fmt.Sprintf("%d logical CPUs", m.NumCPU)
	if c := r.Header["cpu"]; c != "" {
		cpu = c + ", " + cpu
	}
	if p := procs(r); p > 0 {
		cpu += fmt.Sprintf(", GOMAXPROCS %d", p)
	}
	t.add("CPU", cpu)
	t.add("command", "`"+m.Command+"`")
	for i, run := range m.Runs {
		t.add(fmt.Sprintf("run %d", i+1), "`"+run+"`")
	}
	if m.Rendered != "" {
		t.add("written from its saved output by", "`"+m.Rendered+"`")
	}
	t.add("samples", fmt.Sprintf("%s per benchmark; every figure below is the median", sampleCounts(r)))
	t.write(w)

	met := 0
	for _, v := range verdicts {
		if v.Status == Met {
			met++
		}
	}
	fmt.Fprintf(w, "**%d of %d targets met** in this run (see [Targets](#targets)).\n\n", met, len(verdicts))
	fmt.Fprintf(w, "The machine that made this run may be shared and noisy: absolute figures move from run to run.\n"+
		"Compare the ratios, each a median over a median measured in the same run.\n\n")
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "**The run reported failures:**\n\n")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "    %s\n", f)
		}
		fmt.Fprintln(w)
	}
	if hasPrefix(r, "Download/") || hasPrefix(r, "Upload/") {
		writeThroughput(w, r)
	}
	if hasPrefix(r, "ConnMemory/") {
		writeHeap(w, r)
	}
	if hasPrefix(r, "SteadyState/") {
		writeSteady(w, r)
	}
	if hasPrefix(r, "HandshakeBytes/") {
		writeHandshake(w, r)
	}
	if hasPrefix(r, "BinarySize/") {
		writeSize(w, r)
	}
	if hasPrefix(r, "Link/") {
		writeLink(w, r)
	}
	if hasPrefix(r, "Edge/") {
		writeEdge(w, r)
	}
	if hasPrefix(r, "ServerIdle/") || hasPrefix(r, "ServerCPU/") {
		writeServerCost(w, r)
	}
	writeTargets(w, verdicts)
	if len(checks) > 0 {
		fmt.Fprintf(w, "## Checks on the figures\n\n")
		fmt.Fprintf(w, "Computed from this run: figures that look wrong, or that a target's verdict depends on.\n\n")
		for _, c := range checks {
			fmt.Fprintf(w, "- %s\n", c)
		}
		fmt.Fprintln(w)
	}
	writeAll(w, r)
}

func hasPrefix(r *Results, p string) bool {
	for _, n := range r.Names {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

func procs(r *Results) int {
	for _, n := range r.Names {
		for _, s := range r.samples[n] {
			return s.Procs
		}
	}
	return 0
}

func sampleCounts(r *Results) string {
	lo, hi := math.MaxInt, 0
	for _, n := range r.Names {
		lo, hi = min(lo, r.Count(n)), max(hi, r.Count(n))
	}
	if lo == hi && lo == 1 {
		return "1 sample"
	}
	if lo == hi {
		return fmt.Sprintf("%d samples", lo)
	}
	return fmt.Sprintf("%d to %d samples", lo, hi)
}

func writeThroughput(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Throughput\n\n")
	fmt.Fprintf(w, "4 MiB per op over one connection to an in-process crypto/tls server behind `tlsapp.NewListener`, which caps its records at the limit "+
		"(BenchmarkDownload, BenchmarkUpload). Each cell is MB/s and, in brackets, the ratio to crypto/tls with 16 KiB records "+
		"(limit none) of the same version and suite. The row \"tlsapp ÷ utls\" is tlsapp over plain utls at the same limit: "+
		"the library's own cost over the stack it is built on. For uploads the application writes 32 KiB at a time: tlsapp, held to the limit "+
		"by Config.SendRecordLimit, splits each write into records and sends them in one transport write; crypto/tls and utls "+
		"cannot be told a send limit, so they are handed writes of the limit's size, one record each. The server runs in the benchmark's process: its work per record shares the CPUs with the client's.\n\n")
	for _, dir := range []string{"Download", "Upload"} {
		pairs := transferPairs(r, dir)
		if len(pairs) == 0 {
			continue
		}
		fmt.Fprintf(w, "### %s\n\n", dir)
		t := table{header: []string{"TLS", "suite", "client"}, text: 3}
		for _, l := range limitOrder {
			t.header = append(t.header, limitLabel(l))
		}
		noBase := false
		for _, p := range pairs {
			for _, cl := range clientOrder {
				if !hasClient(r, dir, p, cl) {
					continue
				}
				row := []string{label(p.version), label(p.suite), cl}
				for _, l := range limitOrder {
					v, ok := r.Get(transferName(dir, p, l, cl), "MB/s")
					if !ok {
						row = append(row, dash)
						continue
					}
					cell := fmt.Sprintf("%.0f", v)
					if rt, _, _, ok := transferRatio(r, dir, p, l, cl); ok {
						cell += " (" + ratio(rt) + ")"
					} else {
						noBase = true
					}
					row = append(row, cell)
				}
				t.add(row...)
			}
			if hasClient(r, dir, p, tlsappName) && hasClient(r, dir, p, utlsName) {
				row := []string{label(p.version), label(p.suite), "tlsapp ÷ utls"}
				for _, l := range limitOrder {
					a, ok1 := r.Get(transferName(dir, p, l, tlsappName), "MB/s")
					b, ok2 := r.Get(transferName(dir, p, l, utlsName), "MB/s")
					if ok1 && ok2 && b > 0 {
						row = append(row, ratio(a/b))
					} else {
						row = append(row, dash)
					}
				}
				t.add(row...)
			}
		}
		t.write(w)
		if noBase {
			fmt.Fprintf(w, "No ratio where there is no crypto/tls baseline: crypto/tls cannot be made to prefer ChaCha20-Poly1305 in TLS 1.3 on a machine with AES hardware.\n\n")
		}
	}
	// The records seen, to show that the limit was in force.
	t := table{header: []string{"TLS", "suite"}, text: 2}
	for _, l := range limitOrder {
		t.header = append(t.header, limitLabel(l))
	}
	for _, p := range transferPairs(r, "Download") {
		row := []string{label(p.version), label(p.suite)}
		found := false
		for _, l := range limitOrder {
			recv, ok1 := r.Get(transferName("Download", p, l, tlsappName), "max-record-recv-B")
			sent, ok2 := r.Get(transferName("Upload", p, l, tlsappName), "max-record-sent-B")
			cell := dash
			if ok1 || ok2 {
				found = true
				cell = fmt.Sprintf("%s / %s", optNum(recv, ok1), optNum(sent, ok2))
			}
			row = append(row, cell)
		}
		if found {
			t.add(row...)
		}
	}
	if len(t.rows) > 0 {
		fmt.Fprintf(w, "### Largest records tlsapp saw\n\n")
		fmt.Fprintf(w, "Largest record (bytes after the header) tlsapp received while downloading / sent while uploading, from its RecordState.\n\n")
		t.write(w)
	}
}

func optNum(v float64, ok bool) string {
	if !ok {
		return dash
	}
	return num(v)
}

func hasClient(r *Results, dir string, p pair, cl string) bool {
	for _, l := range limitOrder {
		if r.Count(transferName(dir, p, l, cl)) > 0 {
			return true
		}
	}
	return false
}

func writeHeap(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Heap per connection\n\n")
	fmt.Fprintf(w, "200 connections at once to an out-of-process server, 1 MiB downloaded on each (BenchmarkConnMemory). "+
		"The limit is what the server caps its records at; only tlsapp also asks for it (record_size_limit). "+
		"utls-golang is utls's HelloGolang preset (X25519MLKEM768 key share), measured at two limits.\n\n")
	for _, m := range []struct{ unit, title, text string }{
		{"retained-B/conn", "Retained per idle connection", "Heap still held by the idle connections after the downloads and two GCs, per connection."},
		{"peak-B/conn", "Peak per connection", "Largest heap seen (sampled every 200 µs) during the handshakes and downloads, less the heap before, per connection."},
	} {
		fmt.Fprintf(w, "### %s\n\n%s\n\n", m.title, m.text)
		var cls []string
		for _, cl := range clientOrder {
			for _, l := range limitOrder {
				if r.Count(memName(l, cl)) > 0 {
					cls = append(cls, cl)
					break
				}
			}
		}
		t := table{header: append(append([]string{"limit"}, cls...), "tlsapp ÷ crypto/tls same limit", "tlsapp ÷ crypto/tls 16 KiB")}
		base16, okBase := r.Get(memName(noLimit, stdName), m.unit)
		for _, l := range limitOrder {
			row := []string{limitLabel(l)}
			found := false
			for _, cl := range cls {
				v, ok := r.Get(memName(l, cl), m.unit)
				if ok {
					found = true
					row = append(row, kib(v))
				} else {
					row = append(row, dash)
				}
			}
			if !found {
				continue
			}
			app, okApp := r.Get(memName(l, tlsappName), m.unit)
			same, okSame := r.Get(memName(l, stdName), m.unit)
			row = append(row, ratioOr(app, same, okApp && okSame), ratioOr(app, base16, okApp && okBase))
			t.add(row...)
		}
		t.write(w)
	}
}

func ratioOr(a, b float64, ok bool) string {
	if !ok || b == 0 {
		return dash
	}
	return ratio(a / b)
}

func writeSteady(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Allocations in steady state\n\n")
	fmt.Fprintf(w, "One Write or one Read after the handshake, TLS 1.3 AES-128-GCM, against an out-of-process server so that only the client is counted "+
		"(BenchmarkSteadyState). Each cell is allocs/op and B/op. \"tlsapp − utls\" is what the library adds over the stack it is built on. "+
		"The testing package rounds allocs/op down to a whole number.\n\n")
	t := table{header: []string{"operation", "limit"}, text: 2}
	var cls []string
	for _, cl := range clientOrder {
		for _, p := range steadyPoints(r) {
			if r.Count(p.name(cl)) > 0 {
				cls = append(cls, cl)
				break
			}
		}
	}
	t.header = append(append(t.header, cls...), "tlsapp − utls allocs/op", "tlsapp MB/s ÷ utls")
	for _, p := range steadyPoints(r) {
		s := strings.TrimPrefix(string(p), "SteadyState/")
		i := strings.LastIndex(s, "/")
		row := []string{strings.ReplaceAll(s[:i], "/", " "), limitLabel(s[i+1:])}
		for _, cl := range cls {
			a, ok1 := r.Get(p.name(cl), "allocs/op")
			b, ok2 := r.Get(p.name(cl), "B/op")
			if ok1 && ok2 {
				row = append(row, fmt.Sprintf("%g (%s B)", a, num(b)))
			} else {
				row = append(row, dash)
			}
		}
		a, ok1 := r.Get(p.name(tlsappName), "allocs/op")
		b, ok2 := r.Get(p.name(utlsName), "allocs/op")
		if ok1 && ok2 {
			row = append(row, fmt.Sprintf("%+g", a-b))
		} else {
			row = append(row, dash)
		}
		a, ok1 = r.Get(p.name(tlsappName), "MB/s")
		b, ok2 = r.Get(p.name(utlsName), "MB/s")
		row = append(row, ratioOr(a, b, ok1 && ok2))
		t.add(row...)
	}
	t.write(w)
}

func writeHandshake(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Handshake bytes\n\n")
	fmt.Fprintf(w, "Bytes on the wire, record headers included, client → server / server → client, up to the end of the client's handshake "+
		"(BenchmarkHandshakeBytes; ECDSA P-256 chain of leaf and CA). The client columns are what crossed the transport, which for TLS 1.3 "+
		"includes session tickets read ahead with the server's first flight; \"tlsapp RecordState\" counts the handshake records alone. "+
		"tlsapp offers record_size_limit 2048; utls is a plain X25519 hello; crypto/tls and utls-golang send an X25519MLKEM768 key share "+
		"(about 1.2 KB more each way in TLS 1.3).\n\n")
	type row struct{ version, mode string }
	var rows []row
	seen := map[row]bool{}
	cls := map[string]bool{}
	for _, n := range r.Names {
		f := strings.SplitN(n, "/", 4)
		if len(f) != 4 || f[0] != "HandshakeBytes" {
			continue
		}
		k := row{f[1], f[2]}
		if !seen[k] {
			seen[k] = true
			rows = append(rows, k)
		}
		cls[f[3]] = true
	}
	var cols []string
	for _, cl := range clientOrder {
		if cls[cl] {
			cols = append(cols, cl)
		}
	}
	t := table{header: append(append([]string{"TLS", "handshake"}, cols...), "tlsapp RecordState"), text: 2}
	for _, k := range rows {
		mode := k.mode
		if mode == "certcomp" {
			mode = "full, server compresses its chain with zstd"
		}
		cells := []string{label(k.version), mode}
		base := "HandshakeBytes/" + k.version + "/" + k.mode + "/"
		for _, cl := range cols {
			c, ok1 := r.Get(base+cl, "wire-c2s-B")
			s, ok2 := r.Get(base+cl, "wire-s2c-B")
			if ok1 && ok2 {
				cells = append(cells, num(c)+" / "+num(s))
			} else {
				cells = append(cells, dash)
			}
		}
		c, ok1 := r.Get(base+tlsappName, "c2s-B")
		s, ok2 := r.Get(base+tlsappName, "s2c-B")
		if ok1 && ok2 {
			cells = append(cells, num(c)+" / "+num(s))
		} else {
			cells = append(cells, dash)
		}
		t.add(cells...)
	}
	t.write(w)
	if comp, ok1 := r.Get("HandshakeBytes/tls13/certcomp/"+tlsappName, "s2c-B"); ok1 {
		if plain, ok2 := r.Get("HandshakeBytes/tls13/certcomp/tlsapp-nocomp", "s2c-B"); ok2 {
			fmt.Fprintf(w, "Certificate compression (RFC 8879): tlsapp received %s B when offering compression and %s B with DisableCertCompression (%s saved), "+
				"from a TLS 1.3 server (internal/scripted) that sends the bench chain (leaf and CA, ECDSA P-256) as a zstd CompressedCertificate "+
				"to a client that offers zstd. No server on this machine compresses: Debian 12's GnuTLS is built without zstd and brotli, "+
				"OpenSSL 3.0 predates RFC 8879.\n\n",
				num(comp), num(plain), num(plain-comp))
		}
	}
}

func writeSize(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Binary size\n\n")
	fmt.Fprintf(w, "A minimal client that dials, handshakes and copies to stdout, built stripped (`go build -trimpath -ldflags=\"-s -w\"`, CGO_ENABLED=0) "+
		"on each stack (BinarySize; `go run ./bench/size` also lists the packages tlsapp adds).\n\n")
	t := table{header: []string{"target", "tlsapp", "utls only", "crypto/tls only", "tlsapp ÷ utls", "tlsapp ÷ crypto/tls"}}
	for _, tg := range sizeTargets(r) {
		a, okA := r.Get(sizeName(tg, tlsappName), "bytes")
		u, okU := r.Get(sizeName(tg, utlsName), "bytes")
		s, okS := r.Get(sizeName(tg, stdName), "bytes")
		t.add(strings.Replace(strings.Replace(tg, "-", "/", 1), "-v", " GOARM=", 1), optNum(a, okA), optNum(u, okU), optNum(s, okS),
			ratioOr(a, u, okA && okU), ratioOr(a, s, okA && okS))
	}
	t.write(w)
}

func writeTargets(w io.Writer, vs []Verdict) {
	fmt.Fprintf(w, "## Targets\n\n")
	fmt.Fprintf(w, "Computed from the figures above by the report; a ratio is the median of tlsapp over the median of the baseline.\n\n")
	for _, v := range vs {
		fmt.Fprintf(w, "- **%s** — %s", v.Status, v.Target)
		switch v.Status {
		case Met, Missed:
			fmt.Fprintf(w, ": worst point %s.\n", fmtValue(v))
		default:
			fmt.Fprintf(w, ".\n")
		}
		for _, f := range v.Figures {
			fmt.Fprintf(w, "  - %s\n", f)
		}
		if v.Note != "" {
			fmt.Fprintf(w, "  - (%s)\n", v.Note)
		}
	}
	fmt.Fprintln(w)
}

func fmtValue(v Verdict) string {
	if v.Unit != "" {
		return fmt.Sprintf("%+.0f %s (bound %+.0f %s)", v.Value, v.Unit, v.Bound, v.Unit)
	}
	if v.Bound == 0 {
		return fmt.Sprintf("%+g allocs/op", v.Value)
	}
	return fmt.Sprintf("%.3f× (bound %.2f×)", v.Value, v.Bound)
}

func writeAll(w io.Writer, r *Results) {
	fmt.Fprintf(w, "## Every result\n\n<details><summary>Medians of every benchmark and unit of the run</summary>\n\n")
	t := table{header: []string{"benchmark", "n", "medians"}, text: 1}
	for _, n := range r.Names {
		var parts []string
		for _, u := range r.Units(n) {
			v, _ := r.Get(n, u)
			parts = append(parts, fmt.Sprintf("%s %s", strconv.FormatFloat(v, 'g', 6, 64), u))
		}
		t.add(n, strconv.Itoa(r.Count(n)), strings.Join(parts, ", "))
	}
	t.write(w)
	fmt.Fprintf(w, "</details>\n")
}
