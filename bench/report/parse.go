package main

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Sample is one result line of `go test -bench` output.
type Sample struct {
	// Name is the benchmark's name without the "Benchmark" prefix and
	// without the -GOMAXPROCS suffix, e.g. "Download/tls13/aes128/limit=2048/tlsapp".
	Name string
	// Procs is the GOMAXPROCS suffix, 0 when the name had none.
	Procs int
	// Iters is the number of iterations the line reports.
	Iters int64
	// Values holds every value by its unit: ns/op, MB/s, B/op, allocs/op
	// and each unit given to b.ReportMetric.
	Values map[string]float64
	// Units lists the units in the order of the line.
	Units []string
}

// ParseLine parses one benchmark result line. It reports false for any
// other line (headers, logs, PASS, ok) and for a line that is malformed.
func ParseLine(line string) (Sample, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return Sample{}, false
	}
	iters, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || iters <= 0 {
		return Sample{}, false
	}
	s := Sample{Iters: iters, Values: map[string]float64{}}
	s.Name, s.Procs = splitProcs(strings.TrimPrefix(f[0], "Benchmark"))
	if s.Name == "" {
		return Sample{}, false
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Sample{}, false
		}
		if _, dup := s.Values[f[i+1]]; !dup {
			s.Units = append(s.Units, f[i+1])
		}
		s.Values[f[i+1]] = v
	}
	return s, true
}

// splitProcs separates the -GOMAXPROCS suffix the testing package appends
// to a benchmark's name.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || i == len(name)-1 {
		return name, 0
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 {
		return name, 0
	}
	return name[:i], p
}

// Results are the samples of one or more benchmark runs, by name.
type Results struct {
	// Header holds the "key: value" lines go test prints before the
	// results: goos, goarch, pkg, cpu.
	Header map[string]string
	// Names lists each benchmark name once, in the order first seen.
	Names []string
	// Failures are the lines that report a failed benchmark or package.
	Failures []string
	samples  map[string][]Sample
}

// NewResults returns empty Results.
func NewResults() *Results {
	return &Results{Header: map[string]string{}, samples: map[string][]Sample{}}
}

// Parse reads go test -bench output and adds what it finds to r. A result
// split by output written while the benchmark ran (the name on one line,
// the figures on a later one) is joined back.
func (r *Results) Parse(rd io.Reader) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := "" // a benchmark name printed alone, awaiting its figures
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if s, ok := ParseLine(line); ok {
			r.Add(s)
			pending = ""
			continue
		}
		if pending != "" && trimmed != "" && trimmed[0] >= '0' && trimmed[0] <= '9' {
			if s, ok := ParseLine(pending + " " + trimmed); ok {
				r.Add(s)
				pending = ""
				continue
			}
		}
		switch {
		case strings.HasPrefix(trimmed, "Benchmark") && len(strings.Fields(trimmed)) == 1:
			pending = trimmed
		case strings.HasPrefix(trimmed, "--- FAIL"), trimmed == "FAIL", strings.HasPrefix(trimmed, "FAIL\t"),
			strings.HasPrefix(trimmed, "panic:"):
			r.Failures = append(r.Failures, trimmed)
		case !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t"):
			if k, v, ok := strings.Cut(line, ": "); ok && isHeaderKey(k) {
				r.Header[k] = strings.TrimSpace(v)
			}
		}
	}
	return sc.Err()
}

func isHeaderKey(k string) bool {
	switch k {
	case "goos", "goarch", "pkg", "cpu":
		return true
	}
	return false
}

// Add records one sample.
func (r *Results) Add(s Sample) {
	if _, ok := r.samples[s.Name]; !ok {
		r.Names = append(r.Names, s.Name)
	}
	r.samples[s.Name] = append(r.samples[s.Name], s)
}

// Values returns every sample's value of unit for the benchmark name.
func (r *Results) Values(name, unit string) []float64 {
	var vs []float64
	for _, s := range r.samples[name] {
		if v, ok := s.Values[unit]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// Get returns the median over the samples of unit for name.
func (r *Results) Get(name, unit string) (float64, bool) {
	vs := r.Values(name, unit)
	if len(vs) == 0 {
		return 0, false
	}
	return median(vs), true
}

// Units lists the units name reported, in the order of its result lines.
func (r *Results) Units(name string) []string {
	seen := map[string]bool{}
	var units []string
	for _, s := range r.samples[name] {
		for _, u := range s.Units {
			if !seen[u] {
				seen[u] = true
				units = append(units, u)
			}
		}
	}
	return units
}

// Count is the number of samples of name.
func (r *Results) Count(name string) int { return len(r.samples[name]) }

func median(vs []float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
