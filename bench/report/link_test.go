package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLinkSection renders BenchmarkLink output: one table per link with
// every method's figures, and the negotiated-limit target judged on the
// cellular links only.
func TestLinkSection(t *testing.T) {
	out := `goos: linux
BenchmarkLink/link=lte-m/method=16k-2         	       1	9120000000 ns/op	     16401 largest-B	         1.000 requests/op	   1125000 wire-B/op	         1.000 x-bytes	         1.000 x-time
BenchmarkLink/link=lte-m/method=rsl2048-2     	       1	9210000000 ns/op	      2064 largest-B	         1.000 requests/op	   1136000 wire-B/op	         1.010 x-bytes	         1.010 x-time
BenchmarkLink/link=lte-m/method=mfl2048-2     	       1	9400000000 ns/op	      2065 largest-B	         1.000 requests/op	   1136000 wire-B/op	         1.010 x-bytes	         1.031 x-time
BenchmarkLink/link=lte-m/method=range1792-2   	       1	71300000000 ns/op	      2048 largest-B	       586.0 requests/op	   1438000 wire-B/op	         1.278 x-bytes	         7.818 x-time
BenchmarkLink/link=smoke/method=16k-2         	       1	20559617 ns/op	     16401 largest-B	         1.000 requests/op	     67588 wire-B/op	         1.000 x-bytes	         1.000 x-time
BenchmarkLink/link=smoke/method=rsl2048-2     	       1	29514059 ns/op	      2064 largest-B	         1.000 requests/op	     68254 wire-B/op	         1.010 x-bytes	         1.5 x-time
`
	r := NewResults()
	if err := r.Parse(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	writeLink(&md, r)
	for _, want := range []string{
		"### LTE-M-like link",
		"| record_size_limit 2048, one request | 9.21 s | 1.01× | 1136 kB | 1.01× |",
		"| Range 1792, nothing offered | 71.30 s | 7.82× | 1438 kB | 1.28× | 586 | 2,048 B |",
		"### loopback smoke profile",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("no %q in\n%s", want, md.String())
		}
	}
	v := linkTarget(r)
	if v.Status != Missed || v.Value != 1.031 || len(v.Figures) != 2 {
		t.Errorf("target %+v: the smoke profile does not count, mfl2048 at 1.031× misses", v)
	}
	if vs := Evaluate(r); len(vs) != 6 {
		t.Errorf("%d targets with link results", len(vs))
	}
}
