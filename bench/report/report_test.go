package main

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		ok    bool
		name  string
		procs int
		iters int64
		vals  map[string]float64
		units []string
	}{
		{
			line: "BenchmarkDownload/tls13/aes128/limit=2048/tlsapp-2             \t       3\t   6596678 ns/op\t 635.82 MB/s\t      2064 max-record-recv-B\t       222.0 max-record-sent-B\t         0.7129 ratio-vs-crypto/tls\t         0.9675 ratio-vs-utls",
			ok:   true, name: "Download/tls13/aes128/limit=2048/tlsapp", procs: 2, iters: 3,
			vals: map[string]float64{"ns/op": 6596678, "MB/s": 635.82, "max-record-recv-B": 2064, "max-record-sent-B": 222,
				"ratio-vs-crypto/tls": 0.7129, "ratio-vs-utls": 0.9675},
			units: []string{"ns/op", "MB/s", "max-record-recv-B", "max-record-sent-B", "ratio-vs-crypto/tls", "ratio-vs-utls"},
		},
		{
			line: "BenchmarkConnMemory/limit=none/crypto/tls-2             \t       1\t 278658605 ns/op\t     61780 peak-B/conn\t     46806 retained-B/conn",
			ok:   true, name: "ConnMemory/limit=none/crypto/tls", procs: 2, iters: 1,
			vals:  map[string]float64{"ns/op": 278658605, "peak-B/conn": 61780, "retained-B/conn": 46806},
			units: []string{"ns/op", "peak-B/conn", "retained-B/conn"},
		},
		{
			line: "BenchmarkSteadyState/read/16KiB/limit=2048/tlsapp-8  \t  120000\t  9084 ns/op\t1803.61 MB/s\t  240 B/op\t  10 allocs/op",
			ok:   true, name: "SteadyState/read/16KiB/limit=2048/tlsapp", procs: 8, iters: 120000,
			vals:  map[string]float64{"ns/op": 9084, "MB/s": 1803.61, "B/op": 240, "allocs/op": 10},
			units: []string{"ns/op", "MB/s", "B/op", "allocs/op"},
		},
		{
			// A name that ends in a dash and a word keeps it.
			line: "BenchmarkHandshakeBytes/tls13/certcomp/tlsapp-nocomp-2  \t 1\t 1371631 ns/op\t 328.0 c2s-B",
			ok:   true, name: "HandshakeBytes/tls13/certcomp/tlsapp-nocomp", procs: 2, iters: 1,
			vals: map[string]float64{"ns/op": 1371631, "c2s-B": 328}, units: []string{"ns/op", "c2s-B"},
		},
		{
			// GOMAXPROCS=1: no suffix.
			line: "BenchmarkBinarySize/linux-arm64/utls \t 1\t 150.0 ns/op\t 5505186 bytes\t 1.000 ratio-vs-utls",
			ok:   true, name: "BinarySize/linux-arm64/utls", iters: 1,
			vals:  map[string]float64{"ns/op": 150, "bytes": 5505186, "ratio-vs-utls": 1},
			units: []string{"ns/op", "bytes", "ratio-vs-utls"},
		},
		{line: "goos: linux"},
		{line: "PASS"},
		{line: "ok  \tgithub.com/tlsapp/tlsapp/bench\t8.195s"},
		{line: "--- BENCH: BenchmarkHandshakeBytes/tls13/certcomp/tlsapp-nocomp-2"},
		{line: "    handshake_test.go:66: offering compression saved -2 bytes"},
		{line: "BenchmarkDownload/tls12/aes128/limit=none/crypto/tls-2 \t"},
		{line: "BenchmarkX-2 \t 1 \t abc ns/op"},
		{line: "BenchmarkX-2 \t 1 \t 12 ns/op \t 13"},
		{line: "BenchmarkX-2 \t zero \t 12 ns/op"},
		{line: "BenchmarkX-2 \t 0 \t 12 ns/op"},
	} {
		s, ok := ParseLine(tc.line)
		if ok != tc.ok {
			t.Errorf("ParseLine(%q): ok = %v, want %v", tc.line, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		if s.Name != tc.name || s.Procs != tc.procs || s.Iters != tc.iters {
			t.Errorf("ParseLine(%q) = %q, procs %d, iters %d; want %q, %d, %d", tc.line, s.Name, s.Procs, s.Iters, tc.name, tc.procs, tc.iters)
		}
		if !reflect.DeepEqual(s.Values, tc.vals) {
			t.Errorf("ParseLine(%q).Values = %v, want %v", tc.line, s.Values, tc.vals)
		}
		if !reflect.DeepEqual(s.Units, tc.units) {
			t.Errorf("ParseLine(%q).Units = %v, want %v", tc.line, s.Units, tc.units)
		}
	}
}

// golden parses the output of a real run with -benchtime=1x and
// -size.targets=all.
func golden(t *testing.T) *Results {
	t.Helper()
	f, err := os.Open("testdata/run1x.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := NewResults()
	if err := r.Parse(f); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseGolden(t *testing.T) {
	r := golden(t)
	want := map[string]string{"goos": "linux", "goarch": "amd64", "pkg": "github.com/tlsapp/tlsapp/bench", "cpu": "AMD EPYC"}
	if !reflect.DeepEqual(r.Header, want) {
		t.Errorf("Header = %v, want %v", r.Header, want)
	}
	if len(r.Names) != 181 {
		t.Errorf("%d benchmarks, want 181", len(r.Names))
	}
	if len(r.Failures) != 0 {
		t.Errorf("Failures = %q", r.Failures)
	}
	for _, c := range []struct {
		name, unit string
		want       float64
	}{
		{"HandshakeBytes/tls12/full/crypto/tls", "s2c-B", 1084},
		{"HandshakeBytes/tls13/certcomp/tlsapp-nocomp", "s2c-B", 1254},
		{"ConnMemory/limit=2048/tlsapp", "retained-B/conn", 9412},
		{"ConnMemory/limit=2048/utls-golang", "retained-ratio-vs-crypto/tls-16k", 0.5583},
		{"BinarySize/linux-arm-v7/tlsapp", "bytes", 5963938},
		{"SteadyState/read/16KiB/limit=2048/tlsapp", "allocs/op", 10},
		{"SteadyState/write/16KiB/limit=none/utls", "B/op", 14096},
		{"Download/tls13/aes128/limit=none/crypto/tls", "MB/s", 891.90},
		{"Upload/tls13/chacha20/limit=4096/tlsapp", "max-record-sent-B", 4113},
	} {
		got, ok := r.Get(c.name, c.unit)
		if !ok || got != c.want {
			t.Errorf("Get(%q, %q) = %v, %v; want %v", c.name, c.unit, got, ok, c.want)
		}
	}
	if _, ok := r.Get("Download/tls13/chacha20/limit=none/crypto/tls", "MB/s"); ok {
		t.Error("a skipped benchmark has a result")
	}
	wantUnits := []string{"ns/op", "peak-B/conn", "retained-B/conn", "retained-ratio-vs-crypto/tls", "retained-ratio-vs-crypto/tls-16k"}
	if u := r.Units("ConnMemory/limit=512/tlsapp"); !reflect.DeepEqual(u, wantUnits) {
		t.Errorf("Units = %v, want %v", u, wantUnits)
	}
}

func TestParseSamples(t *testing.T) {
	out := `goos: linux
BenchmarkDownload/tls13/aes128/limit=2048/tlsapp-2   	 10	 100 ns/op	 300.0 MB/s
BenchmarkDownload/tls13/aes128/limit=2048/tlsapp-2   	 10	 100 ns/op	 100.0 MB/s
BenchmarkDownload/tls13/aes128/limit=2048/tlsapp-2   	 10	 100 ns/op	 200.0 MB/s
BenchmarkConnMemory/limit=2048/tlsapp-2
    memory_test.go:12: something logged while it ran
      	 2	 5 ns/op	 9000 retained-B/conn
--- FAIL: BenchmarkUpload/tls13/aes128/limit=2048/tlsapp-2
FAIL	github.com/tlsapp/tlsapp/bench	1.0s
`
	r := NewResults()
	if err := r.Parse(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	name := "Download/tls13/aes128/limit=2048/tlsapp"
	if got := r.Values(name, "MB/s"); !reflect.DeepEqual(got, []float64{300, 100, 200}) {
		t.Errorf("Values = %v", got)
	}
	if got, _ := r.Get(name, "MB/s"); got != 200 {
		t.Errorf("median = %v, want 200", got)
	}
	r.Add(Sample{Name: name, Values: map[string]float64{"MB/s": 250}})
	if got, _ := r.Get(name, "MB/s"); got != 225 {
		t.Errorf("median of four = %v, want 225", got)
	}
	if got, ok := r.Get("ConnMemory/limit=2048/tlsapp", "retained-B/conn"); !ok || got != 9000 {
		t.Errorf("split result: %v, %v", got, ok)
	}
	if len(r.Failures) != 2 {
		t.Errorf("Failures = %q", r.Failures)
	}
}

// set replaces every sample's value of unit for name.
func set(t *testing.T, r *Results, name, unit string, v float64) {
	t.Helper()
	if r.Count(name) == 0 {
		t.Fatalf("no benchmark %s", name)
	}
	for _, s := range r.samples[name] {
		s.Values[unit] = v
	}
}

func get(t *testing.T, r *Results, name, unit string) float64 {
	t.Helper()
	v, ok := r.Get(name, unit)
	if !ok {
		t.Fatalf("no %s for %s", unit, name)
	}
	return v
}

func TestEvaluateGolden(t *testing.T) {
	vs := Evaluate(golden(t))
	want := []struct {
		status Status
		value  float64
	}{
		{Missed, 635.82 / 891.90}, // download, TLS 1.3 AES-128-GCM is the worst
		{Missed, 397.49 / 1192.50},
		{Met, 9412.0 / 46806},
		{Missed, 7}, // read 16 KiB at 2048: 10 against utls's 3
		{Met, 5636258.0 / 5505186},
	}
	if len(vs) != len(want) {
		t.Fatalf("%d verdicts, want %d", len(vs), len(want))
	}
	for i, w := range want {
		if vs[i].Status != w.status || math.Abs(vs[i].Value-w.value) > 1e-9 {
			t.Errorf("%s: %v %v, want %v %v", vs[i].Target, vs[i].Status, vs[i].Value, w.status, w.value)
		}
	}
	if !strings.Contains(vs[0].Note, "TLS 1.3 ChaCha20-Poly1305") {
		t.Errorf("download note = %q, want the suite without a baseline", vs[0].Note)
	}
	if !strings.Contains(vs[2].Note, "would be missed") {
		t.Errorf("heap note = %q, want the stricter reading missed", vs[2].Note)
	}
	if vs[4].Note != "" {
		t.Errorf("size note = %q with every platform measured", vs[4].Note)
	}
}

func TestEvaluateMetAndMissed(t *testing.T) {
	pairs := []pair{{"tls12", "aes128"}, {"tls12", "chacha20"}, {"tls13", "aes128"}}
	for _, tc := range []struct {
		name   string
		target int
		edit   func(*testing.T, *Results)
		want   Status
	}{
		{"download met at 0.85 everywhere", 0, func(t *testing.T, r *Results) {
			for _, p := range pairs {
				base := get(t, r, transferName("Download", p, noLimit, stdName), "MB/s")
				set(t, r, transferName("Download", p, limit2048, tlsappName), "MB/s", base*0.85)
			}
		}, Met},
		{"download missed at one point", 0, func(t *testing.T, r *Results) {
			for i, p := range pairs {
				base := get(t, r, transferName("Download", p, noLimit, stdName), "MB/s")
				f := 1.5
				if i == 1 {
					f = 0.849
				}
				set(t, r, transferName("Download", p, limit2048, tlsappName), "MB/s", base*f)
			}
		}, Missed},
		{"upload met", 1, func(t *testing.T, r *Results) {
			for _, p := range pairs {
				base := get(t, r, transferName("Upload", p, noLimit, stdName), "MB/s")
				set(t, r, transferName("Upload", p, limit2048, tlsappName), "MB/s", base)
			}
		}, Met},
		{"upload without a baseline", 1, func(t *testing.T, r *Results) {
			for _, p := range pairs {
				delete(r.samples, transferName("Upload", p, noLimit, stdName))
			}
		}, NotMeasured},
		{"heap missed", 2, func(t *testing.T, r *Results) {
			set(t, r, memName(limit2048, tlsappName), "retained-B/conn", 0.51*get(t, r, memName(noLimit, stdName), "retained-B/conn"))
		}, Missed},
		{"heap at the bound", 2, func(t *testing.T, r *Results) {
			set(t, r, memName(limit2048, tlsappName), "retained-B/conn", 0.5*get(t, r, memName(noLimit, stdName), "retained-B/conn"))
		}, Met},
		{"heap without tlsapp", 2, func(t *testing.T, r *Results) {
			delete(r.samples, memName(limit2048, tlsappName))
		}, NotMeasured},
		{"allocs met when tlsapp adds none", 3, func(t *testing.T, r *Results) {
			for _, p := range steadyPoints(r) {
				set(t, r, p.name(tlsappName), "allocs/op", get(t, r, p.name(utlsName), "allocs/op"))
			}
		}, Met},
		{"allocs met when each record tlsapp writes costs utls's per-call allocation", 3, splitWrite(8), Met},
		{"allocs missed by one record's worth", 3, splitWrite(9), Missed},
		{"allocs missed by one", 3, func(t *testing.T, r *Results) {
			for _, p := range steadyPoints(r) {
				set(t, r, p.name(tlsappName), "allocs/op", 0)
			}
			set(t, r, "SteadyState/write/1KiB/limit=none/tlsapp", "allocs/op", 3)
		}, Missed},
		{"size missed on arm", 4, func(t *testing.T, r *Results) {
			set(t, r, sizeName("linux-arm-v7", tlsappName), "bytes", 1.11*get(t, r, sizeName("linux-arm-v7", utlsName), "bytes"))
		}, Missed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := golden(t)
			tc.edit(t, r)
			v := Evaluate(r)[tc.target]
			if v.Status != tc.want {
				t.Errorf("%s: %v (%v, %q), want %v", v.Target, v.Status, v.Value, v.Figures, tc.want)
			}
		})
	}
}

func TestSizeTargetPartial(t *testing.T) {
	r := NewResults()
	for _, l := range []string{
		"BenchmarkBinarySize/linux-amd64/tlsapp-2 1 900 ns/op 6045858 bytes",
		"BenchmarkBinarySize/linux-amd64/utls-2 1 200 ns/op 5922978 bytes",
	} {
		s, ok := ParseLine(l)
		if !ok {
			t.Fatalf("ParseLine(%q) failed", l)
		}
		r.Add(s)
	}
	v := sizeTarget(r)
	if v.Status != Met || !strings.Contains(v.Note, "linux-arm-v7, linux-arm64") {
		t.Errorf("%v, note %q; want met, arm not measured", v.Status, v.Note)
	}
}

func TestChecksGolden(t *testing.T) {
	checks := strings.Join(Checks(golden(t)), "\n")
	for _, want := range []string{
		"Download, TLS 1.3 AES-128-GCM: the crypto/tls 16 KiB baseline (892 MB/s) is slower than crypto/tls at 2048",
		"the server did not compress",
		"Heap: at limits 512, 1024, 2048 tlsapp's peak per connection is above crypto/tls's",
		"Upload: crypto/tls itself reaches only 0.36–0.61× its 16 KiB figure with 2048-byte records, and tlsapp runs at 1.28–1.76× plain utls",
	} {
		if !strings.Contains(checks, want) {
			t.Errorf("checks lack %q:\n%s", want, checks)
		}
	}
	if strings.Contains(checks, "not in force") {
		t.Errorf("the golden run kept its limits:\n%s", checks)
	}
}

func TestReportAndChart(t *testing.T) {
	r := golden(t)
	var md bytes.Buffer
	vs := Evaluate(r)
	WriteMarkdown(&md, r, Meta{Date: "2026-01-02 03:04 UTC", GoVersion: "go1.x", NumCPU: 2, Command: "go run ./bench/report",
		Runs: []string{"go test -bench ."}}, vs, Checks(r))
	for _, want := range []string{
		"| TLS 1.3 | AES-128-GCM | tlsapp | 535 (0.60×) | 778 (0.87×) | 636 (0.71×) | 1008 (1.13×) | 977 (1.10×) |",
		"| 2048 | 11.7 KiB | 14.8 KiB | 25.5 KiB | 9.2 KiB | 0.79× | 0.20× |",
		"| read 16KiB | 2048 | 3 (72 B) | 3 (72 B) | 10 (240 B) | +7 |",
		"| linux/arm GOARM=7 | 5,963,938 | 5,832,866 | 4,653,218 | 1.02× | 1.28× |",
		"**2 of 5 targets met**",
		"- **missed** — download",
		"- **met** — heap",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	data, err := Chart(r, "2026-01-02")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 600 {
		t.Errorf("chart is %v", b)
	}
}

func TestFontCoversChartText(t *testing.T) {
	for r, g := range font {
		for i, row := range g {
			if len(row) != 5 {
				t.Errorf("glyph %q row %d is %q", r, i, row)
			}
		}
	}
	for _, s := range []string{"0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", " .,:;/-+=()%<>≤≥×?"} {
		for _, r := range s {
			if _, ok := font[r]; !ok {
				t.Errorf("no glyph for %q", r)
			}
		}
	}
}

func TestProvenance(t *testing.T) {
	saved := "# report-command: go run ./bench/report -passes 3\n# report-date: 2026-01-02 03:04 UTC\n" +
		"# report-go: go1.x\n# report-run: go test -bench .\ngoos: linux\n" +
		"BenchmarkX-2 \t 1 \t 12 ns/op\n"
	m := readProvenance([]byte(saved))
	want := map[string]string{"command": "go run ./bench/report -passes 3", "date": "2026-01-02 03:04 UTC", "go": "go1.x", "run": "go test -bench ."}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("readProvenance = %v, want %v", m, want)
	}
	r := NewResults()
	if err := r.Parse(strings.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	if len(r.Header) != 1 || len(r.Names) != 1 {
		t.Errorf("the provenance lines leaked into the results: %v %v", r.Header, r.Names)
	}
}

// splitWrite makes tlsapp allocate what utls does at every steady-state
// point except 16 KiB writes at 2048, where utls allocates once per Write
// and tlsapp, which hands it 8 records, allocates n.
func splitWrite(n float64) func(t *testing.T, r *Results) {
	return func(t *testing.T, r *Results) {
		const split = "SteadyState/write/16KiB/limit=2048"
		for _, p := range steadyPoints(r) {
			set(t, r, p.name(tlsappName), "allocs/op", get(t, r, p.name(utlsName), "allocs/op"))
		}
		set(t, r, split+"/utls", "allocs/op", 1)
		set(t, r, split+"/tlsapp", "allocs/op", n)
	}
}

func TestWriteCalls(t *testing.T) {
	for _, tc := range []struct {
		p    steadyPoint
		want int
	}{
		{"SteadyState/write/16KiB/limit=2048", 8},
		{"SteadyState/write/1KiB/limit=2048", 1},
		{"SteadyState/write/16KiB/limit=none", 1},
		{"SteadyState/write/16KiB/limit=3000", 6},
		{"SteadyState/read/16KiB/limit=2048", 1},
	} {
		if got := tc.p.writeCalls(); got != tc.want {
			t.Errorf("%s: %d write calls, want %d", tc.p, got, tc.want)
		}
	}
}
