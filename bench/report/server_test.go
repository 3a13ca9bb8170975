package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestServerCostSection renders the server-cost benchmarks' output: the
// idle and CPU tables with the ratios of medians, and the four targets
// judged on both sides of their bounds.
func TestServerCostSection(t *testing.T) {
	out := `goos: linux
BenchmarkServerIdle/tls13/conns=1000/server=crypto/tls-2 	 1	 362852918 ns/op	 17000 heap-B/conn	 55874 peak-rss-B/conn	 52187 rss-B/conn	 30000 rss-freed-B/conn
BenchmarkServerIdle/tls13/conns=1000/server=nginx-2 	 1	 1099955155 ns/op	 15380 peak-rss-B/conn	 20000 rss-B/conn	 20000 rss-freed-B/conn
BenchmarkServerIdle/tls13/conns=1000/server=tlsapp-2 	 1	 202788250 ns/op	 19048 heap-B/conn	 59773 peak-rss-B/conn	 59773 rss-B/conn	 30000 rss-freed-B/conn
BenchmarkServerIdle/tls13/conns=5000/server=crypto/tls-2 	 1	 362852918 ns/op	 17000 heap-B/conn	 55874 peak-rss-B/conn	 52187 rss-B/conn	 30000 rss-freed-B/conn
BenchmarkServerIdle/tls13/conns=5000/server=nginx-2 	 1	 1099955155 ns/op	 15380 peak-rss-B/conn	 20000 rss-B/conn	 20000 rss-freed-B/conn
BenchmarkServerIdle/tls13/conns=5000/server=tlsapp-2 	 1	 202788250 ns/op	 19049 heap-B/conn	 59773 peak-rss-B/conn	 59773 rss-B/conn	 29000 rss-freed-B/conn
BenchmarkServerCPU/tls12-2 	 1	 982797777 ns/op	 1.00 crypto/tls-cpu-s/GiB	 1092.54 crypto/tls-MB/s	 2.00 nginx-cpu-s/GiB	 414.14 nginx-MB/s	 1.20 tlsapp-cpu-s/GiB	 550.41 tlsapp-MB/s	 1.20 tlsapp-cpu-ratio-vs-crypto/tls	 2.00 nginx-cpu-ratio-vs-crypto/tls	 0.60 tlsapp-cpu-ratio-vs-nginx
BenchmarkServerCPU/tls12-cbc-2 	 1	 982797777 ns/op	 2.00 crypto/tls-cpu-s/GiB	 500 crypto/tls-MB/s	 2.30 tlsapp-cpu-s/GiB	 400 tlsapp-MB/s	 1.15 tlsapp-cpu-ratio-vs-crypto/tls
BenchmarkServerCPU/tls13-2 	 1	 982797777 ns/op	 1.00 crypto/tls-cpu-s/GiB	 1000 crypto/tls-MB/s	 1.10 tlsapp-cpu-s/GiB	 500 tlsapp-MB/s	 1.10 tlsapp-cpu-ratio-vs-crypto/tls
BenchmarkServerCPU/tls13-2 	 1	 982797777 ns/op	 0.80 crypto/tls-cpu-s/GiB	 1100 crypto/tls-MB/s	 0.90 tlsapp-cpu-s/GiB	 600 tlsapp-MB/s	 1.125 tlsapp-cpu-ratio-vs-crypto/tls
`
	r := NewResults()
	if err := r.Parse(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	writeServerCost(&md, r)
	for _, want := range []string{
		"| TLS 1.3, 1,000 connections | tlsapp | 18.6 KiB | +2.0 KiB | 58.4 KiB | 29.3 KiB | 1.50× | 58.4 KiB |",
		"| TLS 1.3, 5,000 connections | nginx | — | — | 19.5 KiB | 19.5 KiB | 1.00× | 15.0 KiB |",
		"| TLS 1.2 | tlsapp | 1.20 | 1.20× | 0.60× | 550 |",
		"| TLS 1.2 | nginx | 2.00 | 2.00× | 1.00× | 414 |",
		"| TLS 1.2 AES-128-CBC-SHA | tlsapp | 2.30 | 1.15× | — | 400 |",
		"| TLS 1.3 | crypto/tls | 0.90 (0.80–1.00) | 1.00× | — | 1,050 |",
		"| TLS 1.3 | tlsapp | 1.00 (0.90–1.10) | 1.11× (1.10×–1.12×) | — | 550 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("no %q in\n%s", want, md.String())
		}
	}
	vs := serverTargets(r)
	if len(vs) != 4 {
		t.Fatalf("%d server targets", len(vs))
	}
	// At the bound: met. The CPU ratios are each sample's own, whose
	// median in TLS 1.3 (1.1125) is not the ratio of the medians (1.11).
	// The heap target's worst point is 5,000 connections at 2049 B, one
	// byte over.
	for i, want := range []struct {
		status Status
		value  float64
		points int
	}{{Met, 1.2, 3}, {Met, 0.6, 1}, {Missed, 2049, 2}, {Met, 1.5, 2}} {
		v := vs[i]
		if v.Status != want.status || v.Value != want.value || len(v.Figures) != want.points {
			t.Errorf("target %d (%s): %v at %g with %d points, want %v at %g with %d", i, v.Target, v.Status, v.Value, len(v.Figures), want.status, want.value, want.points)
		}
	}
	if !strings.Contains(fmtValue(vs[2]), "+2049 B (bound +2048 B)") {
		t.Errorf("heap verdict reads %q", fmtValue(vs[2]))
	}
	if vs[3].Note != "crypto/tls itself: TLS 1.3, 1,000 connections 1.50×, TLS 1.3, 5,000 connections 1.50×" {
		t.Errorf("RSS note %q", vs[3].Note)
	}
	if n := len(Evaluate(r)); n != 5+4 {
		t.Errorf("%d targets with server results", n)
	}
}
